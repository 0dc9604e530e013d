"""``datasets/tinydigits/croissant.json``: MLCommons Croissant 1.1 metadata, built from the files.

    $ mlcroissant validate --jsonld datasets/tinydigits/croissant.json
    $ python -c "import mlcroissant as mlc; ds = mlc.Dataset('datasets/tinydigits/croissant.json'); \\
                 print(next(iter(ds.records('train'))))"

Every figure in it is measured from the published Parquet files (sha256, bytes, rows), so a
variant built with other params describes itself. Its one date, ``datePublished``, is read from the
release record (the first release's recorded date), never from the clock: the same files and record
give the same bytes.
Record sets ``train`` and ``test`` read ``train.parquet`` and ``test.parquet`` (``contentUrl``
is relative to this file's folder).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from pipeline.core import config
from pipeline.formats import citation

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
COLLECTION = (
    "E. Alpaydin and C. Kaynak (1998) collected handwritten digits on preprinted forms filled in by 43 people: "
    "30 wrote the UCI training part, 13 others the UCI test part. That test part (1,797 images, 174 to 183 per "
    "digit) ships with scikit-learn as digits.csv.gz, and it is TinyDigits' only source: TinyDigits collects "
    "nothing new."
)
PREPROCESSING = (
    "By the source's authors: NIST's preprocessing programs extracted normalised 32x32 bitmaps of the scanned "
    "forms, then counted the on-pixels of each non-overlapping 4x4 block, giving 8x8 images of integers 0..16. "
    "By TinyDigits (the pipeline in this repository): for each digit in order, the source images of that digit "
    "are shuffled with one NumPy RandomState stream seeded from params.yaml, the first train_per_class go to "
    "train and the next test_per_class to test; each split is then permuted with the same stream, and pixels "
    "are scaled to float32 k/16, which is exact. No image is edited, filtered, deduplicated (the source has no "
    "exact duplicates) or relabelled; labels are the source's."
)
LIMITATIONS = (
    "Train and test come from the same 13 writers, so test accuracy does not measure generalisation to "
    "unseen handwriting. 8x8 images at 17 grey levels are far coarser than MNIST: suited to teaching, not "
    "to comparing models. With a few hundred test images, accuracy moves in coarse steps; differences of a "
    "point or two are noise. No demographic information about the writers is available."
)
BIASES = (
    "All images come from 13 writers, so their handwriting styles dominate; who they were (age, country, "
    "handedness) is not recorded, so no demographic balance can be claimed or checked. Classes are balanced "
    "by construction: the same number of images per digit unless params.yaml sets per-digit counts, which "
    "the description above states."
)
PERSONAL_INFORMATION = (
    "None. The images are 8x8 digit glyphs with a digit label; the files hold no names, writer identifiers, "
    "forms or any other information about the people who wrote them."
)
# The standard Croissant 1.1 @context, key for key as the pinned mlcroissant writes it for a 1.1
# document (mlcroissant._src.core.rdf.make_context); mlcroissant warns about any other.
_CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def _field(split: str, name: str, data_type: str, description: str, **extra) -> dict:
    return {
        "@type": "cr:Field",
        "@id": f"{split}/{name}",
        "name": name,
        "description": description,
        "dataType": data_type,
        **extra,
        "source": {"fileObject": {"@id": f"{split}.parquet"}, "extract": {"column": name}},
    }


def _record_set(split: str, rows: int) -> dict:
    shape = ",".join(map(str, config.IMAGE_SHAPE))
    return {
        "@type": "cr:RecordSet",
        "@id": split,
        "name": split,
        "description": f"The {split} split: {rows:,} images, one record per image, in the order of {split}.pkl.",
        "key": {"@id": f"{split}/source_index"},
        "field": [
            _field(
                split,
                "image",
                "cr:Float32",
                "8x8 grey levels, float32 k/16 in [0, 1], rows top to bottom.",
                isArray=True,
                arrayShape=shape,
            ),
            _field(split, "label", "cr:Int64", "The digit written, 0 to 9."),
            _field(
                split,
                "source_index",
                "cr:Int64",
                "Row of this image in scikit-learn's digits.csv.gz (0-based), i.e. load_digits() index.",
            ),
        ],
    }


def metadata(
    files: dict[str, bytes], labels: dict[str, np.ndarray], version: str, published: str | None
) -> dict:
    """The Croissant document for ``files`` (split -> bytes of its Parquet file) and ``labels``
    (split -> (N,) int labels, for the counts); ``version`` from :func:`pipeline.release.record.version_of`,
    ``published`` (YYYY-MM-DD, or None when no release is recorded) from
    :func:`pipeline.release.record.date_published`."""
    counts = {s: np.bincount(labels[s], minlength=len(config.DIGITS)) for s in config.SPLITS}
    per_digit = "; ".join(
        f"{s}: {len(labels[s]):,} images, "
        + (
            f"{counts[s][0]} per digit"
            if len(set(counts[s])) == 1
            else f"per digit {counts[s].tolist()}"
        )
        for s in config.SPLITS
    )
    return {
        "@context": _CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": "TinyDigits",
        "description": (
            "A small subset of the 8x8 handwritten digits that ship with scikit-learn (the UCI Optical "
            f"Recognition of Handwritten Digits test set), for teaching ML systems. {per_digit}. "
            "Pixels are float32 in [0, 1]."
        ),
        "version": version,
        **({"datePublished": published} if published else {}),
        "license": config.DATA_LICENSE_URL,
        "url": citation.SOURCE_URL,
        "citeAs": citation.BIBTEX,
        "creator": {"@type": "sc:Organization", "name": "TinyTorch Project"},
        "isBasedOn": {
            "@type": "sc:Dataset",
            "name": "Optical Recognition of Handwritten Digits",
            "url": citation.SOURCE_DOI,
        },
        "keywords": ["handwritten digits", "image classification", "education", "8x8"],
        "rai:dataCollection": COLLECTION,
        "rai:dataPreprocessingProtocol": PREPROCESSING,
        "rai:dataLimitations": LIMITATIONS,
        "rai:dataBiases": BIASES,
        "rai:personalSensitiveInformation": PERSONAL_INFORMATION,
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": f"{s}.parquet",
                "name": f"{s}.parquet",
                "description": f"The {s} split, one row per image.",
                "contentUrl": f"{s}.parquet",
                "contentSize": f"{len(files[s])} B",
                "encodingFormat": "application/x-parquet",
                "sha256": hashlib.sha256(files[s]).hexdigest(),
            }
            for s in config.SPLITS
        ],
        "recordSet": [_record_set(s, len(labels[s])) for s in config.SPLITS],
    }


def json_bytes(doc: dict) -> bytes:
    """Fixed layout: keys in the order built, two-space indent, UTF-8, one final newline."""
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

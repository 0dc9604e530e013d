"""How to cite TinyDigits, said once: the card, ``croissant.json`` (``citeAs``) and the README quote
:data:`BIBTEX`, and ``CITATION.cff`` (GitHub's "Cite this repository") states the same two works;
``tests/test_citation.py`` checks that all four agree.

TinyDigits is an adapted subset of the UCI "Optical Recognition of Handwritten Digits" data set,
published under CC BY 4.0, which requires crediting it: the second entry, :data:`SOURCE_CREDIT`.
"""

SOURCE_DOI = "https://doi.org/10.24432/C50P49"
SOURCE_URL = "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits"
BIBTEX = """@misc{tinydigits2025,
  title  = {TinyDigits: Curated Educational Dataset for ML Systems Learning},
  author = {TinyTorch Project},
  year   = {2025},
  note   = {Balanced subset of sklearn digits optimized for edge deployment}
}
@misc{alpaydin1998optdigits,
  title  = {Optical Recognition of Handwritten Digits},
  author = {Alpaydin, E. and Kaynak, C.},
  year   = {1998},
  howpublished = {UCI Machine Learning Repository},
  doi    = {10.24432/C50P49}
}"""
SOURCE_CREDIT = (
    "Alpaydin, E. and Kaynak, C. (1998). Optical Recognition of Handwritten Digits [Dataset]. "
    f"UCI Machine Learning Repository. {SOURCE_DOI}"
)

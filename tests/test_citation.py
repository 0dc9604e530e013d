"""One citation: README, the dataset card, croissant.json and CITATION.cff cite TinyDigits and credit
its UCI source the same way (pipeline/formats/citation.py says it once)."""

import json
import re

import yaml

from pipeline.core import config
from pipeline.formats import citation
from tests.helpers import ROOT

CFF = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def bibtex_blocks(markdown: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bibtex\n(.*?)```", markdown, re.S)]


def entries(bibtex: str) -> list[dict[str, str]]:
    """Each ``@misc{key, field = {value}, ...}`` as a dict of its fields."""
    return [
        dict(re.findall(r"^\s*(\w+)\s*=\s*\{(.*)\},?$", body, re.M))
        for body in re.findall(r"@\w+\{[^,]+,\n(.*?)\n\}", bibtex, re.S)
    ]


def test_readme_card_and_croissant_quote_the_same_bibtex():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    card = (ROOT / config.CARD_FILE).read_text(encoding="utf-8")
    croissant = json.loads((ROOT / config.CROISSANT_FILE).read_text(encoding="utf-8"))
    assert bibtex_blocks(readme) == [citation.BIBTEX]
    assert bibtex_blocks(card) == [citation.BIBTEX]
    assert croissant["citeAs"] == citation.BIBTEX
    assert croissant["isBasedOn"]["url"] == citation.SOURCE_DOI
    assert citation.SOURCE_CREDIT in card.replace("\n", " ")


def test_citation_cff_has_the_keys_cff_1_2_0_requires():
    # what cffconvert --validate checks first (validated with cffconvert 2.0.0, which is not pinned
    # here: its jsonschema < 4 conflicts with this project's pins)
    assert CFF["cff-version"] == "1.2.0"
    assert {"cff-version", "message", "title", "authors"} <= CFF.keys()
    for work in (CFF, CFF["preferred-citation"], *CFF["references"]):
        assert work["title"] and work["authors"], work
        assert all("name" in a or "family-names" in a for a in work["authors"])
    for work in (CFF["preferred-citation"], *CFF["references"]):
        assert {"type", "title", "authors"} <= work.keys() and work["type"] == "data"


def test_citation_cff_states_the_same_two_works_as_the_bibtex():
    tinydigits, source = entries(citation.BIBTEX)
    preferred, (uci,) = CFF["preferred-citation"], CFF["references"]
    assert CFF["title"] == preferred["title"] == tinydigits["title"]
    assert [a["name"] for a in preferred["authors"]] == [tinydigits["author"]]
    assert str(preferred["year"]) == tinydigits["year"]
    assert uci["title"] == source["title"]
    assert (
        " and ".join(f"{a['family-names']}, {a['given-names']}" for a in uci["authors"])
        == (source["author"])
    )
    assert str(uci["year"]) == source["year"] and uci["doi"] == source["doi"]
    assert f"https://doi.org/{uci['doi']}" == citation.SOURCE_DOI
    assert uci["publisher"]["name"] == source["howpublished"]
    assert uci["license"] == CFF["license"] == "CC-BY-4.0"

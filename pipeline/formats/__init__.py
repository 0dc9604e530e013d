"""The published formats beside the pickles and ``.npz`` files: Parquet (``parquet``), the
Croissant JSON-LD (``croissant``), the Hugging Face card header (``hub_header``) and the citation
(``citation``). Each module turns arrays and recorded facts into bytes; nothing here reads a clock.
"""

"""Reading data files: encodings, separators, Parquet, and a clear error for everything else."""

from __future__ import annotations

import codecs
import zipfile

import numpy as np
import pandas as pd
import pytest

from hbm.data.grouped import grouped_data
from hbm.data.tables import read_table

ROWS = "school,score\n007,1.5\n007,2.5\n1224,3\nÉcole Saint-Loup,4\nÉcole Saint-Loup,6\n"


def _write(path, data: bytes | str, encoding: str = "utf-8"):
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("utf8.csv", ROWS.encode("utf-8")),
        ("utf8-bom.csv", codecs.BOM_UTF8 + ROWS.encode("utf-8")),
        ("latin1.csv", ROWS.encode("latin-1")),
        ("cp1252.csv", ROWS.encode("cp1252")),
        ("utf16.csv", ROWS.encode("utf-16")),  # with its byte-order mark, as Excel writes it
        ("semicolon.csv", ROWS.replace(",", ";").encode("utf-8")),
        ("semicolon-decimal-comma.csv", ROWS.replace(",", ";").replace(".", ",").encode()),
        ("tab.tsv", ROWS.replace(",", "\t").encode("utf-8")),
        ("crlf.csv", ROWS.replace("\n", "\r\n").encode("utf-8")),
    ],
)
def test_text_files_in_any_common_encoding_and_separator(tmp_path, name, payload):
    table = read_table(_write(tmp_path / name, payload), group="school")
    assert list(table.columns) == ["school", "score"]
    ecole = "École Saint-Loup"
    assert table["school"].tolist() == ["007", "007", "1224", ecole, ecole]
    np.testing.assert_array_equal(table["score"].to_numpy(dtype=float), [1.5, 2.5, 3, 4, 6])
    data = grouped_data(table, group="school", value="score")
    assert data.labels == ("007", "1224", "École Saint-Loup")  # zeros and accents kept
    np.testing.assert_allclose(data.mean, [2.0, 3.0, 5.0])


def test_utf8_is_not_mistaken_for_latin1_when_a_character_spans_the_sniffed_head(tmp_path):
    label = "x" * 65531 + "é"  # the two bytes of "é" sit at offsets 65535 and 65536
    text = f"g,y\n{label},1\n{label},2\nb,3\n"
    assert text.encode().index("é".encode()) == 65535
    table = read_table(_write(tmp_path / "t.csv", text), group="g")
    assert table["g"].iloc[0] == label


def test_utf8_later_in_the_file_falls_back_to_a_one_byte_encoding(tmp_path):
    body = "g,y\n" + "a,1\nb,2\n" * 20000 + "Bürgel,3\n"
    table = read_table(_write(tmp_path / "t.csv", body, "latin-1"), group="g")
    assert table["g"].iloc[-1] == "Bürgel"


def test_parquet_by_content_whatever_the_name(tmp_path):
    frame = pd.DataFrame({"school": ["007", "b", "b"], "score": [1.0, 2.0, 4.0]})
    frame.to_parquet(tmp_path / "t.parquet")
    (tmp_path / "t.parquet").rename(tmp_path / "disguised.csv")
    for path in (tmp_path / "disguised.csv",):
        table = read_table(path, group="school")
        assert table["school"].tolist() == ["007", "b", "b"]
        assert table.index.name == "data row" and table.index.tolist() == [1, 2, 3]
    frame.to_parquet(tmp_path / "t.parquet")
    assert read_table(tmp_path / "t.parquet")["score"].tolist() == [1.0, 2.0, 4.0]


def test_the_group_label_na_is_a_label_but_na_values_are_missing(tmp_path):
    path = _write(tmp_path / "t.csv", "region,y\nNA,1\nNA,2\nEU,NA\nEU,4\n,5\n")
    table = read_table(path, group="region")
    assert table["region"].tolist()[:4] == ["NA", "NA", "EU", "EU"]
    assert pd.isna(table["region"].iloc[4]) and pd.isna(table["y"].iloc[2])


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("g,y\na,1\n\nb,x\n", "line 4"),  # a blank line is skipped but counted
        ("g,y\na,1\n   \nb,x\n", "line 4"),  # so is a line of spaces
        ("g,y\r\na,1\r\n\r\nb,x\r\n", "line 4"),  # Windows line ends
        ("g,y\ra,1\rb,x\r", "data row 2"),  # old Mac line ends: only the row count is sure
        ('g,y\na,"1"\n"b",x\n', "line 3"),  # quotes without line breaks inside
    ],
)
def test_rows_are_numbered_by_file_line(tmp_path, text, where):
    table = read_table(_write(tmp_path / "t.csv", text), group="g")
    assert table["g"].tolist() == ["a", "b"]
    with pytest.raises(ValueError, match=rf"value column 'y' must hold numbers; {where} holds 'x'"):
        grouped_data(table, group="g", value="y")


def test_quoted_line_breaks_fall_back_to_data_row_numbers(tmp_path):
    path = _write(tmp_path / "t.csv", 'g,y\n"a\nb",1\nc,oops\n')
    table = read_table(path, group="g")
    assert table.index.name == "data row" and table.index.tolist() == [1, 2]
    with pytest.raises(ValueError, match="data row 2 holds 'oops'"):
        grouped_data(table, group="g", value="y")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", r"'.*bad\.csv' is empty"),
        (b"  \n\n \n", r"is empty"),
        (b"school,score\n", r"has a header \('school', 'score'\) but no data rows"),
        (b"school,score\n\n\n", r"has a header .* but no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"is a PNG image, not a table"),
        (b"%PDF-1.7\n", r"is a PDF document"),
        (b"\x89HDF\r\n\x1a\n", r"HDF5 / netCDF file \(a saved fit\?\)"),
        (b"\x1f\x8b\x08\x00", r"gzip-compressed; decompress it first"),
        (b"\x80\x04\x95", r"a Python pickle, which hbm never loads"),
        (bytes(range(256)) * 4, r"is binary \(it holds NUL bytes\)"),
        (b"school,score,score\na,1,2\n", r"has 2 columns named 'score' \(columns 2, 3\)"),
        (b"g,y\na,1\nb,2,3\n", r"could not be read as a table: line 3 has 3 fields but the header"),
    ],
)
def test_files_that_are_not_tables(tmp_path, payload, message):
    with pytest.raises(ValueError, match=message):
        read_table(_write(tmp_path / "bad.csv", payload), group="school")


def test_a_spreadsheet_is_named_as_such(tmp_path):
    with zipfile.ZipFile(tmp_path / "book.xlsx", "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ValueError, match=r"zip archive \(an Excel .xlsx .*\); save it as CSV"):
        read_table(tmp_path / "book.xlsx")


def test_missing_file_folder_and_fake_parquet(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'.*nope\.csv' does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(ValueError, match="is a folder; expected a CSV or Parquet file"):
        read_table(tmp_path)
    with pytest.raises(ValueError, match="named like Parquet but is not a Parquet file"):
        read_table(_write(tmp_path / "t.parquet", "g,y\na,1\n"))


def test_broken_parquet_and_parquet_without_rows(tmp_path):
    _write(tmp_path / "cut.parquet", b"PAR1" + b"\x00" * 40)
    with pytest.raises(ValueError, match=r"could not be read as Parquet \("):
        read_table(tmp_path / "cut.parquet")
    pd.DataFrame({"g": pd.Series([], dtype=str), "y": pd.Series([], dtype=float)}).to_parquet(
        tmp_path / "empty.parquet"
    )
    with pytest.raises(ValueError, match=r"has columns \('g', 'y'\) but no data rows"):
        read_table(tmp_path / "empty.parquet")

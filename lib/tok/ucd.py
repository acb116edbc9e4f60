"""ucd.py - reading the Unicode Character Database (UAX #44) for the table
generators gen_uclass.py and gen_unorm.py.

Two file shapes occur:
  - "property files" (PropList.txt, DerivedAge.txt,
    DerivedNormalizationProps.txt): lines "first[..last] ; value # comment",
    code points in hexadecimal (for example "0009..000D ; White_Space");
  - UnicodeData.txt: one line of 15 ';'-separated fields per code point,
    except that a large block of alike characters (CJK ideographs, Hangul
    syllables, private use...) is given as two lines whose names end in
    ", First>" and ", Last>" (UAX #44, section 4.2.3).
"""
import os

UCD_DIR = "/usr/share/unicode"      # Debian's unicode-data package


def path(ucd, name):
    return os.path.join(ucd, name)


def ranges(file):
    """(first, last, value) of each data line of a property file."""
    with open(file, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            cps, value = [x.strip() for x in line.split(";")[:2]]
            a, _, b = cps.partition("..")
            yield int(a, 16), int(b or a, 16), value


def unicode_data(file):
    """(first, last, fields) of UnicodeData.txt: a single character has
    first == last; a First/Last pair comes back as one range with the Last
    line's fields."""
    first = None
    with open(file, encoding="utf-8") as f:
        for line in f:
            fld = line.rstrip("\n").split(";")
            cp = int(fld[0], 16)
            if fld[1].endswith(", First>"):
                first = cp
                continue
            yield (first if first is not None else cp), cp, fld
            first = None

"""CVSS vectors -> score and severity, checked against the specifications' published examples."""

from __future__ import annotations

import pytest

from customhouse.advisories.cvss import CVSSError, parse, score, severity_of
from customhouse.errors import EXIT_INPUT

# FIRST, "CVSS v3.1 Examples" (https://www.first.org/cvss/v3.1/examples): (CVE, vector, base score)
V31_EXAMPLES = [
    (
        "CVE-2013-1937 phpMyAdmin reflected XSS",
        "AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        6.1,
        "MEDIUM",
    ),
    (
        "CVE-2013-0375 MySQL stored SQL injection",
        "AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N",
        6.4,
        "MEDIUM",
    ),
    ("CVE-2014-3566 SSLv3 POODLE", "AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, "LOW"),
    (
        "CVE-2012-1516 VMware guest to host escape",
        "AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H",
        9.9,
        "CRITICAL",
    ),
    (
        "CVE-2009-0783 Apache Tomcat XML parser",
        "AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L",
        4.2,
        "MEDIUM",
    ),
    (
        "CVE-2012-0384 Cisco IOS command execution",
        "AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
        8.8,
        "HIGH",
    ),
    (
        "CVE-2015-1098 Apple iWork denial of service",
        "AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
        7.8,
        "HIGH",
    ),
    ("CVE-2014-0160 OpenSSL Heartbleed", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, "HIGH"),
    ("CVE-2014-6271 GNU Bash Shellshock", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "CRITICAL"),
    ("CVE-2008-1447 DNS Kaminsky bug", "AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8, "MEDIUM"),
    (
        "CVE-2014-2005 Sophos login screen bypass",
        "AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        6.8,
        "MEDIUM",
    ),
    (
        "CVE-2010-0467 Joomla directory traversal",
        "AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N",
        5.8,
        "MEDIUM",
    ),
    (
        "CVE-2012-1342 Cisco access control bypass",
        "AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N",
        5.8,
        "MEDIUM",
    ),
    (
        "CVE-2013-6014 Juniper proxy ARP denial of service",
        "AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H",
        9.3,
        "CRITICAL",
    ),
    ("CVE-2014-9253 DokuWiki reflected XSS", "AV:N/AC:L/PR:L/UI:R/S:C/C:L/I:L/A:N", 5.4, "MEDIUM"),
    ("CVE-2011-1265 Microsoft Bluetooth RCE", "AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.8, "HIGH"),
    (
        "CVE-2014-2019 Apple iOS security control bypass",
        "AV:P/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N",
        4.6,
        "MEDIUM",
    ),
    ("CVE-2015-0970 SearchBlox CSRF", "AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 8.8, "HIGH"),
    ("CVE-2014-0224 OpenSSL CCS injection", "AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:N", 7.4, "HIGH"),
    ("CVE-2016-0128 Badlock", "AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:N", 6.8, "MEDIUM"),
]

# FIRST, "CVSS v4.0 Examples" (https://www.first.org/cvss/v4.0/examples): (vector, score).
# Vectors with threat/environmental metrics give CVSS-BT / CVSS-BTE scores.
V40_EXAMPLES = [
    ("CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.3),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.7),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:P/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", 5.2),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N", 8.3),
    (
        "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N/CR:H/IR:L/AR:L/MAV:N/MAC:H/MVC:H/MVI:L/MVA:L",
        8.1,
    ),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 4.6),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", 5.1),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", 6.9),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:N/VI:N/VA:N/SC:H/SI:N/SA:N", 5.9),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 9.4),
    ("CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:H/SA:N/S:P/V:D", 8.3),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N/E:A", 8.7),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:A", 10.0),
    ("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:N/VI:L/VA:N/SC:H/SI:N/SA:H", 6.4),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/R:I", 9.3),
    ("CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 8.6),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 7.1),
    ("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", 8.2),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:L/E:U", 6.6),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:H/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/E:U", 5.6),
    ("CVSS:4.0/AV:P/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 5.4),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/S:P/AU:Y/V:C/RE:L", 9.4),
    (
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:P/CR:L/IR:H/AR:L/MAV:L/MAC:H/MAT:N/MPR:N/MUI:N/MVC:N/MVI:H/MVA:L/MSC:N/MSI:S/MSA:L",
        7.0,
    ),
    ("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N/MSI:S/S:P", 9.7),
]


@pytest.mark.parametrize(("name", "metrics", "expected", "severity"), V31_EXAMPLES)
def test_v31_specification_examples(
    name: str, metrics: str, expected: float, severity: str
) -> None:
    assert score(f"CVSS:3.1/{metrics}") == (expected, severity), name


@pytest.mark.parametrize(("vector", "expected"), V40_EXAMPLES)
def test_v40_specification_examples(vector: str, expected: float) -> None:
    got, severity = score(vector)
    assert got == expected
    assert severity == severity_of(expected)


@pytest.mark.parametrize(
    ("vector", "expected"),
    [
        # v3.0 differs from v3.1 only in rounding; these are the v3.0 spec's own examples
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
        ("CVSS:3.0/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3),
    ],
)
def test_v30_vectors(vector: str, expected: float) -> None:
    parsed = parse(vector)
    assert (parsed.version, parsed.base_score, parsed.osv_type) == ("3.0", expected, "CVSS_V3")


@pytest.mark.parametrize(
    ("vector", "expected", "severity"),
    [
        # CVSS v2 guide examples (https://www.first.org/cvss/v2/guide section 3.3)
        ("AV:N/AC:L/Au:N/C:N/I:N/A:C", 7.8, "HIGH"),  # CVE-2002-0392 Apache chunked encoding
        ("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0, "HIGH"),  # CVE-2003-0818 Windows ASN.1
        ("AV:L/AC:H/Au:N/C:C/I:C/A:C", 6.2, "MEDIUM"),  # CVE-2003-0062 NOD32 buffer overflow
        ("AV:N/AC:L/Au:N/C:P/I:N/A:N", 5.0, "MEDIUM"),
    ],
)
def test_v2_guide_examples(vector: str, expected: float, severity: str) -> None:
    parsed = parse(vector)
    assert (parsed.version, parsed.base_score, parsed.severity) == ("2.0", expected, severity)


@pytest.mark.parametrize(
    ("score_", "severity"),
    [
        (0.0, "NONE"),
        (0.1, "LOW"),
        (3.9, "LOW"),
        (4.0, "MEDIUM"),
        (6.9, "MEDIUM"),
        (7.0, "HIGH"),
        (8.9, "HIGH"),
        (9.0, "CRITICAL"),
        (10.0, "CRITICAL"),
    ],
)
def test_qualitative_rating_scale_boundaries(score_: float, severity: str) -> None:
    assert severity_of(score_) == severity


@pytest.mark.parametrize(
    "vector",
    [
        "",
        "CVSS:3.1/",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",  # a mandatory metric missing
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # an unknown value
        "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # a repeated metric
        "CVSS:4.0/AV:N/AC:L",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/XX:Y",
        "CVSS:5.0/AV:N",
        "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",  # v3 metrics without the prefix
        "AV:N/AC:L/Au:N/C:P/I:P",
        "////",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\u00e9",
    ],
)
def test_invalid_vector_raises_typed_input_error(vector: str) -> None:
    with pytest.raises(CVSSError) as e:
        parse(vector)
    assert e.value.exit_code == EXIT_INPUT


def test_score_outside_range_is_rejected() -> None:
    with pytest.raises(CVSSError):
        severity_of(10.1)

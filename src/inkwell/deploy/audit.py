"""`make audit`: the stack's HTTPS graded by Mozilla's HTTP Observatory scanner (run locally) and
checked by testssl.sh. Both need the site on 127.0.0.1:80/443, so the audit starts its own stack
there (root or CAP_NET_BIND_SERVICE) and stops it afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError
from .stack import Stack

OBSERVATORY = "@mdn/mdn-http-observatory@1.4.8"
BAD_SEVERITIES = {"HIGH", "CRITICAL"}


@dataclass
class AuditResult:
    grade: str
    score: int
    failed_tests: list[str]
    testssl_counts: dict[str, int]
    testssl_bad: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.grade == "A+" and not self.testssl_bad


def _observatory(node_dir: Path, ca_file: Path) -> dict:
    """Install the scanner once (scripts off: they download lists we do not need for loopback)."""
    package = node_dir / "node_modules" / "@mdn" / "mdn-http-observatory"
    if not package.exists():
        node_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix",
             str(node_dir), OBSERVATORY],
            check=True, stdout=subprocess.DEVNULL,
        )
    preload = package / "conf" / "hsts-preload.json"
    if not preload.exists():  # written by the skipped postinstall; loopback is on no list
        preload.write_text("{}")
    # scan.js directly: the packaged wrapper would replace NODE_EXTRA_CA_CERTS with its own.
    result = subprocess.run(
        ["node", str(package / "src" / "scan.js"), "127.0.0.1"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file)},
    )
    return json.loads(result.stdout)


def _testssl(work: Path, ca_file: Path) -> list[dict]:
    tool = shutil.which("testssl") or shutil.which("testssl.sh")
    if tool is None:
        raise ConfigError("testssl.sh is not installed: apt install testssl.sh bind9-dnsutils")
    report = work / "testssl.json"
    report.unlink(missing_ok=True)
    subprocess.run(
        [tool, "--quiet", "--color", "0", "--warnings", "off", "--ip", "one",
         "--jsonfile", str(report), "127.0.0.1:443"],
        stdout=subprocess.DEVNULL, timeout=900,
        env={**os.environ, "ADDITIONAL_CA_FILES": str(ca_file)},
    )
    return json.loads(report.read_text())


def run_audit(app_dir: Path, work: Path) -> AuditResult:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise ConfigError(f"{tool} is not installed: apt install nodejs npm")
    stack = Stack(app_dir=app_dir, run_dir=work / "stack", http_port=80, https_port=443,
                  log_to_files=True)
    with stack:
        scan = _observatory(work / "node", stack.ca_file)
        findings = _testssl(work, stack.ca_file)
    if scan.get("scan", {}).get("error"):
        raise ConfigError(f"the Observatory scan failed: {scan['scan']['error']}")
    return AuditResult(
        grade=scan["scan"]["grade"],
        score=scan["scan"]["score"],
        failed_tests=[name for name, test in scan["tests"].items() if not test["pass"]],
        testssl_counts=dict(Counter(f["severity"] for f in findings)),
        testssl_bad=[f"{f['severity']} {f['id']}: {f['finding']}" for f in findings
                     if f["severity"] in BAD_SEVERITIES],
    )

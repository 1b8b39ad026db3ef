"""Every touchpoint is written by one path: touchpoints.service.record(), which calls the SQL
function chatcentre_record_touchpoint (the ingest's SQL calls it too). No other module builds
a Touchpoint row or inserts into the table."""

import ast
import re
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
THE_WRITE_PATH = {
    APP / "touchpoints" / "service.py",
    APP / "touchpoints" / "sql" / "record_touchpoint.sql",
}
_SQL_INSERT = re.compile(r"\binsert\s+into\s+touchpoints\b", re.IGNORECASE)


def _names(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _writes(path: Path) -> list[str]:
    source = path.read_text()
    found = [
        f"{path}:{source.count(chr(10), 0, m.start()) + 1} INSERT INTO touchpoints"
        for m in _SQL_INSERT.finditer(source)
    ]
    if path.suffix != ".py":
        return found
    for node in ast.walk(ast.parse(source, str(path))):
        if not isinstance(node, ast.Call):
            continue
        callee = _names(node.func)
        if callee == "Touchpoint":
            found.append(f"{path}:{node.lineno} Touchpoint(...)")
        if callee == "insert" and any(_names(a) == "Touchpoint" for a in node.args):
            found.append(f"{path}:{node.lineno} insert(Touchpoint)")
    return found


def test_only_the_touchpoints_service_writes_touchpoints() -> None:
    files = sorted([*APP.rglob("*.py"), *APP.rglob("*.sql")])
    writes = [w for p in files if p not in THE_WRITE_PATH for w in _writes(p)]
    assert writes == []


def test_the_scan_sees_a_write(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "session.add(Touchpoint(kind=k))\n"
        "stmt = insert(Touchpoint).values()\n"
        "SQL = '''insert into\n touchpoints (kind) values (1)'''\n"
    )
    assert len(_writes(sample)) == 3

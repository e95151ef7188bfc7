from __future__ import annotations

from features.contract.tables import TABLES, codes
from features.contract_doc import DOC_PATH, render_contract_doc


def test_committed_contract_doc_is_up_to_date() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render_contract_doc(), "run `relapse docs` and commit the result"


def test_doc_names_every_table_column_and_code() -> None:
    doc = render_contract_doc()
    for table in TABLES.values():
        assert f"## `{table.name}` — {table.zh} ({table.en})" in doc
        for column in table.columns:
            assert f"| `{column.name}` |" in doc
            if column.codes is not None:
                for code, (zh, en) in column.codes.items():
                    assert f"| `{code}` | {zh} | {en} |" in doc
    assert "HEALTH_STATES" in doc and len(codes.HEALTH_STATES) == 4

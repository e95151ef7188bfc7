"""`relapse explain`: reasons, proposed measures and what-if for one household, in zh-CN and English.

The household's profile is built from the source folder (the demo city by default) with the same profile
builder as training and serving, as of `--as-of` (default: the extract date of the data), and explained with
the registry's champion (or `--version`). `--faithfulness` prints the faithfulness table instead
(`training.faithfulness`; docs/model-quality.md, "Faithfulness of reasons").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table

from models.outcomes import LEGACY_LABEL
from models.outcomes import name as outcome_name
from relapse._progress import console
from relapse._registry import registered_model

if TYPE_CHECKING:
    import pandas as pd

    from models.explain import HouseholdExplanation
    from models.reasons import Lang
    from models.risk_model import RiskModel

LangChoice = Literal["zh", "en", "both"]
SYNTHETIC_NOTICE = "合成数据（虚构城市，非真实人员或地点） — SYNTHETIC DATA (a fictional city; no real person or place)"


def explain(
    household: Annotated[str | None, typer.Option("--household", help="Household id to explain.")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Source folder (contract tables). Default: the demo city.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date (YYYY-MM-DD). Default: the data's extract date.")
    ] = None,
    lang: Annotated[LangChoice, typer.Option("--lang", help="Language of the texts.")] = "both",
    top: Annotated[int, typer.Option(min=1, help="Number of reasons.")] = 3,
    version: Annotated[str | None, typer.Option(help="Model version (default: the champion).")] = None,
    faithfulness: Annotated[
        bool, typer.Option("--faithfulness", help="Print the faithfulness of reasons on --data instead.")
    ] = False,
    reference: Annotated[
        str, typer.Option(help="Faithfulness reference date: identification or year_start.")
    ] = "identification",
) -> None:
    """Explain one household: reasons in the policy's risk types, measures, and what-if (model estimates)."""
    from features.pseudonyms.ingestion import load_sources
    from features.pseudonyms.keys import ensure_local_key
    from features.settings import get_settings
    from relapse.demo_command import demo_sources_dir

    settings = get_settings()
    folder = data or demo_sources_dir(settings.data_dir)
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} does not exist; run `relapse demo` or pass --data", param_hint="--data")
    key, _ = ensure_local_key(settings)
    with console.status(f"loading {folder}"):
        sources = load_sources(folder, key)
    model, model_version = registered_model(version)
    if faithfulness:
        _faithfulness(model, sources, folder, top, reference)
        return
    if household is None:
        raise typer.BadParameter("give --household ID (or --faithfulness)", param_hint="--household")
    profile, as_of_date = _profile(sources, household, as_of)
    from models.explain import explain_households

    with console.status("explaining"):
        result = explain_households(model, profile, top=top, lang=lang)[0]
        identification = model.identification_proba(model.prepare(profile), profile["monitoring_status"].tolist())
    if sources.synthetic:
        console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")
    console.print(status_line(profile.iloc[0].to_dict()))
    print_explanation(
        result, lang, model_version, as_of_date, model.label, None if identification is None else identification[0]
    )
    if sources.synthetic:
        console.print(f"[bold yellow]{SYNTHETIC_NOTICE}[/]")


def _profile(sources: object, household: str, as_of: str | None) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    from features.profiles.build import build_profile, select_households

    households = sources["households"]  # type: ignore[index]
    if not (households["household_id"].astype(str) == household).any():
        raise typer.BadParameter(f"no household {household!r} in the data", param_hint="--household")
    manifest = getattr(sources, "manifest", {})
    date = pd.Timestamp(as_of or manifest.get("extract_date") or pd.Timestamp.today().normalize())
    own = select_households(sources, [household])  # type: ignore[arg-type]
    return build_profile(own, date), str(date.date())


def _faithfulness(model: RiskModel, sources: object, folder: Path, top: int, reference: str) -> None:
    from training.faithfulness import measure_faithfulness, period_start, read_truth, report

    if reference not in ("identification", "year_start"):
        raise typer.BadParameter("identification or year_start", param_hint="--reference")
    with console.status("measuring faithfulness"):
        result = measure_faithfulness(
            model,
            sources,  # type: ignore[arg-type]
            read_truth(folder),
            start=period_start(model, sources),  # type: ignore[arg-type]
            top=top,
            reference=reference,  # type: ignore[arg-type]
        )
    console.print(report(result, folder), markup=False, highlight=False)


def status_line(row: Mapping[Any, Any]) -> str:
    """The household's monitoring status on as_of in both languages; for a current monitoring object, a warning
    that the probability is not an estimate of a new identification; for any other, the monitoring type it would
    enter as."""
    from features.contract.codes import MONITORING_TYPES, RISK_TYPES
    from features.profiles.monitoring_type import expected_type_row
    from features.profiles.status import MONITORED, STATUSES, status_of

    status = status_of(row)
    zh, en = STATUSES[status.status]
    details = []
    if status.monitoring_type:
        details.append("/".join(MONITORING_TYPES[status.monitoring_type]))
    if status.risk_types:
        details.append("、".join(RISK_TYPES[code][0] for code in status.risk_types))
    if status.identified_date:
        details.append(f"纳入 identified {status.identified_date.isoformat()}")
    if status.elimination_date:
        details.append(f"风险消除 eliminated {status.elimination_date.isoformat()}")
    line = f"monitoring status 监测状态: [bold]{zh} {en}[/]" + (f" ({'; '.join(details)})" if details else "")
    if status.status == MONITORED:
        line += (
            "\n[yellow]已是监测对象：下面的概率针对未纳入监测的农户，不是对本户的估计 — already a monitoring object:"
            " the probability below is made for households not under monitoring, not an estimate for this one[/]"
        )
    else:
        zh_type, en_type = MONITORING_TYPES[str(expected_type_row(row))]
        line += f"\nexpected monitoring type 预计监测类型: [bold]{zh_type} {en_type}[/]"
    return line


def _pp(points: float, lang: str) -> str:
    value = round(points * 100, 1) + 0.0  # a risk type without weight reads +0.0, not -0.0
    return f"{value:+.1f} 个百分点" if lang == "zh" else f"{value:+.1f} pp"


def print_explanation(
    result: HouseholdExplanation,
    lang: LangChoice,
    model_version: str,
    as_of: str,
    label: str = LEGACY_LABEL,
    identification: float | None = None,
) -> None:
    """`label` is the model's: what its probability estimates (`models.outcomes`); `identification` the
    probability of its identification companion, the second output, when it has one."""
    langs: tuple[Lang, ...] = ("zh", "en") if lang == "both" else (lang,)
    console.print(
        f"[bold]household {result.household_id}[/] — as of {as_of}; model version {model_version}\n"
        f"{outcome_name(label, 'en')} {outcome_name(label, 'zh')}: [bold]{result.probability:.1%}[/] "
        f"(base rate 基准 {result.base_probability:.1%}); "
        f"labour 劳动力: {'有 yes' if result.has_labour else '无 no'}"
    )
    if identification is not None and not math.isnan(identification):  # NaN: under monitoring already
        console.print(
            f"{outcome_name(LEGACY_LABEL, 'en')} {outcome_name(LEGACY_LABEL, 'zh')}: {identification:.1%} "
            "(the second output: how likely the usual channels find it)"
        )
    reasons = Table(
        "#", "risk type 风险类型", "points 百分点", *(f"why ({x})" for x in langs), title="reasons 致贫返贫风险原因"
    )
    for i, r in enumerate(result.reasons, start=1):
        name = f"{r.code or '—'} {r.zh} / {r.en}"
        reasons.add_row(str(i), name, _pp(r.points, "en"), *((r.sentence(x) or "") for x in langs))
    console.print(reasons)
    measures = Table(
        "measure 措施",
        "category 类别",
        "addresses 针对风险",
        "instead of 已享受",
        "what-if 模型估计",
        title="proposed measures 建议帮扶措施",
    )
    for p, w in zip(result.measures, result.what_if, strict=True):
        measures.add_row(
            f"{p.zh} / {p.en}",
            f"{p.category_zh} / {p.category_en} ({p.family_zh} / {p.family_en})",
            ", ".join(p.risks),
            ", ".join(p.replaces),
            f"{_pp(w.points, 'zh')} → {w.probability_after:.1%}",
        )
    console.print(measures)
    console.print(
        f"what-if: {result.what_if_label_zh}；{result.what_if_label_en} — the model re-scored with the measure's "
        "declared effect on the profile (docs/measures.md)."
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(explain)

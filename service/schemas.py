"""Request and response models of the API (v1). Requests reject unknown fields: a typo is a 422, not a silent NaN."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from models.record import nested_expected_type

# Hard upper bound of list lengths in the schema; the configured `max_batch` (default 1,000) is checked on top.
SCHEMA_MAX_ITEMS = 100_000
Row = dict[str, Any]

# Reference dates the service accepts. Profiles count calendar months back from `as_of` and the data's own dates
# are nanosecond timestamps, which end in 2262; monitoring records start in the 2010s. Assumed bounds.
EARLIEST_AS_OF: Final = date(1900, 1, 1)
LATEST_AS_OF: Final = date(2100, 12, 31)


def check_as_of(value: date) -> date:
    if not EARLIEST_AS_OF <= value <= LATEST_AS_OF:
        raise ValueError(f"must lie between {EARLIEST_AS_OF.isoformat()} and {LATEST_AS_OF.isoformat()}")
    return value


AsOf = Annotated[date, AfterValidator(check_as_of)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileScoreRequest(_Request):
    """Already-built profiles: catalogue feature → value, plus `household_id` and `region_code` of each.

    A profile may carry the monitoring status columns (`monitoring_status`, `monitoring_type`,
    `monitoring_risk_types`, `identified_date`, `elimination_date`, `elimination_way`) as the profile builder
    writes them; without `monitoring_status` its answer says `unknown`."""

    profiles: list[Row] = Field(min_length=1, max_length=SCHEMA_MAX_ITEMS)
    as_of: AsOf | None = None  # of profiles that do not carry their own; default today
    explain: bool = True


class HouseholdDocument(_Request):
    """One household's source records in the contract's shape (`features.contract.tables.TABLES`): lists of rows."""

    household: Row  # the households-table row: household_id, region_code, household_type, …
    members: list[Row] = Field(default_factory=list, max_length=SCHEMA_MAX_ITEMS)
    member_status: list[Row] = Field(default_factory=list, max_length=SCHEMA_MAX_ITEMS)
    income: list[Row] = Field(default_factory=list, max_length=SCHEMA_MAX_ITEMS)
    events: list[Row] = Field(default_factory=list, max_length=SCHEMA_MAX_ITEMS)
    assistance: list[Row] = Field(default_factory=list, max_length=SCHEMA_MAX_ITEMS)
    housing_checks: list[Row] = Field(default_factory=list, max_length=SCHEMA_MAX_ITEMS)
    water_checks: list[Row] = Field(default_factory=list, max_length=SCHEMA_MAX_ITEMS)
    identifications: list[Row] = Field(default_factory=list, max_length=SCHEMA_MAX_ITEMS)
    civil_affairs: list[Row] = Field(
        default_factory=list, max_length=SCHEMA_MAX_ITEMS
    )  # 低保, 特困, 低保边缘, 刚性支出困难
    village: Row | None = None  # the villages-table row of the household's village


class HouseholdScoreRequest(_Request):
    """1..N household documents; profiles are built from them with `features.profiles.build.build_profiles`."""

    households: list[HouseholdDocument] = Field(min_length=1, max_length=SCHEMA_MAX_ITEMS)
    as_of: AsOf | None = None  # default today
    explain: bool = True


class ReasonOut(BaseModel):
    key: str
    code: str | None
    zh: str
    en: str
    points: float  # change of the calibrated probability attributed to this reason
    sentence_zh: str | None = None  # the household's own values in words (catalogue reason templates)
    sentence_en: str | None = None


class MeasureOut(BaseModel):
    measure: str
    zh: str
    en: str
    risks: list[str]
    probability_after: float  # what-if: a model estimate, not a causal effect
    points: float


class RuleFlagsOut(BaseModel):
    flags: dict[str, bool]
    zh: list[str]
    en: list[str]


class MonitoringStatusFields(BaseModel):
    """The household's monitoring status as of `as_of` (`features.profiles.status`), in every answer.

    `monitoring_status` is `not_monitored` (未纳入监测), `monitored` (已纳入监测: a current monitoring object),
    `eliminated` (已风险消除) or `unknown` (the input could not tell). For a monitored household the probability is
    no estimate (the model's is made for households not under monitoring): region summaries list it apart."""

    monitoring_status: Literal["not_monitored", "monitored", "eliminated", "unknown"] = "unknown"
    monitoring_type: str | None = None  # unstable / marginal / sudden, of the latest identification
    monitoring_risk_types: list[str] = Field(default_factory=list)  # risk-type codes of the latest identification
    identified_date: date | None = None  # of the latest identification before as_of
    elimination_date: date | None = None  # when its risk was eliminated (status eliminated only)
    elimination_way: str | None = None  # assisted (帮扶消除) / natural (自然消除)


class MonitoringTypeOut(BaseModel):
    """A monitoring type: `unstable` 脱贫不稳定户, `marginal` 边缘易致贫户 or `sudden` 突发严重困难户."""

    code: Literal["unstable", "marginal", "sudden"]
    zh: str
    en: str

    @classmethod
    def of(cls, code: str | None) -> MonitoringTypeOut | None:
        """The type with its names (`models.record.nested_expected_type`), None for no type."""
        nested = nested_expected_type(code)
        return None if nested is None else cls.model_validate(nested)


class ReadinessConditionOut(BaseModel):
    """One risk-elimination condition of a monitoring object, checked from its own records as of `as_of`."""

    key: str  # income_above_line, six_months_monitored, housing_safe, water_safe, … (docs/domain.md §17)
    zh: str
    en: str
    state: Literal["met", "not_met", "not_observed"]  # not_observed: the records to check it are missing
    value: float | None = None  # the household's value the condition reads first (None: missing)


class ReadinessOut(BaseModel):
    """A current monitoring object's elimination readiness (`features.profiles.readiness`)."""

    ready: bool  # every condition met
    met: int  # how many conditions are met
    conditions: list[ReadinessConditionOut]  # every condition, in the declared order

    @classmethod
    def of(cls, nested: Mapping[str, Any] | None) -> ReadinessOut | None:
        return None if nested is None else cls.model_validate(nested)


class ScoreItem(MonitoringStatusFields):
    # The type the household would enter monitoring as, from its status, registration, income and shocks
    # (docs/domain.md §15); a current monitoring object's recorded type; None where that records none.
    expected_monitoring_type: MonitoringTypeOut | None = None
    # For a current monitoring object: which risk-elimination conditions it meets; None for every other household.
    elimination_readiness: ReadinessOut | None = None
    household_pseudonym: str
    region_code: str
    as_of: date
    probability: float
    # The second output: the probability that the household is identified as a monitoring object within 12
    # months (the need model's identification companion); None when the serving model carries none and for a
    # household under monitoring (it cannot be newly identified).
    identification_probability: float | None = None
    risk_level: str
    reasons: list[ReasonOut]
    measures: list[MeasureOut]
    rule_flags: RuleFlagsOut
    model_version: str
    synthetic: bool
    # The villages reference the county and village context came from (households:score); None for profiles.
    context_version: str | None = None


class ScoreResponse(BaseModel):
    model_version: str
    synthetic: bool
    notice: str | None  # said whenever the model was trained on synthetic data
    items: list[ScoreItem]


class StoredScore(MonitoringStatusFields):
    expected_monitoring_type: MonitoringTypeOut | None = None  # as ScoreItem; None for scores stored before it
    elimination_readiness: ReadinessOut | None = None  # as ScoreItem; None for scores stored before it
    household_pseudonym: str
    region_code: str
    as_of: date
    scored_at: datetime
    model_version: str
    probability: float
    identification_probability: float | None = None  # as ScoreItem; None for scores stored before it
    risk_level: str
    reasons: list[dict[str, Any]]
    measures: list[dict[str, Any]]
    rule_flags: dict[str, Any]
    synthetic: bool


class HistoryResponse(BaseModel):
    household_pseudonym: str
    scores: list[StoredScore]  # newest first
    cursor: str | None = None  # ask again with ?cursor=<this> for the next page
    more: bool = False  # more scores follow this page


class RiskTypeOut(BaseModel):
    key: str  # an official risk-type code ("01", "02" for the disaster family, …)
    households: int  # high- and medium-risk households that can be newly identified naming it among top reasons
    share: float  # households ÷ all high- and medium-risk households that can be newly identified


class ExpectedIdentificationsOut(BaseModel):
    """The sum of probabilities over households that can be newly identified, with a normal-approximation interval
    of the Poisson-binomial count (docs/api.md): expected households in need for a need model (the default),
    expected new identifications for an identification model (`GET /v1/model`, `meta.label`)."""

    expected: float
    low: float
    high: float
    confidence: float
    households: int


class RegionSummaryResponse(BaseModel):
    region_code: str
    households: int  # every household with a stored score
    newly_identifiable: int  # of them, not current monitoring objects: what the new-risk outputs cover
    by_status: dict[str, int]  # households by monitoring status, every status
    by_level: dict[str, int]  # households that can be newly identified, by risk level
    top_risk_types: list[RiskTypeOut]
    visit_list: list[StoredScore]  # households that can be newly identified (status unknown included, marked)
    monitored_list: list[StoredScore]  # current monitoring objects, longest monitored first
    expected_identifications: ExpectedIdentificationsOut
    latest_identifications_by_year: dict[int, int]
    identifications_by_year: dict[int, int]  # last years' actual counts from jobs' source data; {} when none
    latest_as_of: date | None
    synthetic: bool


class ReadinessListResponse(BaseModel):
    region_code: str
    # Current monitoring objects of the region by their latest scores, oldest identification first (the most
    # overdue for an elimination review), each with every elimination condition checked.
    items: list[StoredScore]
    cursor: str | None = None  # ask again with ?cursor=<this> for the next page
    more: bool = False  # more households follow this page


class HiddenNeedCountyOut(BaseModel):
    """How one county's hidden-need list was made."""

    county_code: str
    county_name: str  # from the villages reference; empty without one
    households: int  # scored households that are not current monitoring objects
    size: int  # ceil(share × households): the list's size for the county
    listed: int  # households on the list (fewer than `size` when too few are listable)
    flagged: int  # left out: an official-rule flag already raises them (0 with include_flagged)
    settled: int  # left out: a home visit settled them and no new evidence followed


class HiddenNeedItem(BaseModel):
    rank: int  # in the whole list, 1 first
    county_rank: int  # in its county's list
    household_pseudonym: str
    region_code: str  # the village
    village_name: str
    township_code: str
    township_name: str
    county_code: str
    county_name: str
    as_of: date
    model_version: str
    probability: float
    identification_probability: float | None = None  # the chance the usual channels find it within 12 months
    risk_level: str
    monitoring_status: str  # not_monitored, eliminated or unknown (current monitoring objects are never listed)
    expected_monitoring_type: MonitoringTypeOut | None = None
    risk_types: list[dict[str, Any]]  # the score's reasons that name an official risk type: why it is listed
    reasons: list[dict[str, Any]]  # every top reason of the score
    synthetic: bool


class HiddenNeedResponse(BaseModel):
    region_code: str
    share: float
    include_flagged: bool  # whether households an official-rule flag raises are listed too
    total: int  # households on the whole list
    counties: list[HiddenNeedCountyOut]
    items: list[HiddenNeedItem]  # this page, highest probability first
    cursor: str | None = None  # ask again with ?cursor=<this> for the next page
    more: bool = False  # more households follow this page


class ModelResponse(BaseModel):
    version: str
    name: str
    alias: str
    source: str
    synthetic: bool
    loaded_at: datetime
    degraded: str | None
    refused: str | None = None  # why the alias's newest version was refused; the version above keeps serving
    metrics: dict[str, float]
    model_card: str | None
    meta: dict[str, Any]


class ReloadResponse(BaseModel):
    changed: bool
    version: str | None


class ReadyResponse(BaseModel):
    ready: bool
    model_version: str | None
    database: bool  # answers a read
    writable: bool  # took the latest write probe
    degraded: str | None

"""`relapse explain` says the household's monitoring status, and warns for a current monitoring object."""

from __future__ import annotations

from relapse.explain_command import status_line


def test_a_monitoring_object_is_named_with_its_details_and_the_probability_is_qualified() -> None:
    line = status_line(
        {
            "monitoring_status": "monitored",
            "monitoring_type": "unstable",
            "monitoring_risk_types": "01,0205",
            "identified_date": "2023-07-08",
        }
    )
    assert "已纳入监测" in line and "脱贫不稳定户" in line and "因病、因灾-气象灾害" in line and "2023-07-08" in line
    assert "不是对本户的估计" in line and "not an estimate for this one" in line


def test_other_statuses_are_said_without_the_warning() -> None:
    eliminated = status_line(
        {"monitoring_status": "eliminated", "elimination_date": "2024-02-01", "elimination_way": "natural"}
    )
    assert "已风险消除" in eliminated and "2024-02-01" in eliminated and "不是对本户" not in eliminated
    assert "未纳入监测" in status_line({"monitoring_status": "not_monitored"})
    assert "监测状态未知" in status_line({})  # a profile without the status columns


def test_a_household_not_monitored_is_told_the_type_it_would_enter_as() -> None:
    assert "预计监测类型" not in status_line({"monitoring_status": "monitored", "monitoring_type": "sudden"})
    former_poor = status_line({"monitoring_status": "not_monitored", "poverty_alleviated": 1})
    assert "预计监测类型: [bold]脱贫不稳定户 unstable poverty-alleviated household" in former_poor
    shocked = status_line({"monitoring_status": "eliminated", "income_to_line": 1.3, "oop_to_income_12m": 0.7})
    assert "突发严重困难户" in shocked
    assert "边缘易致贫户" in status_line({})

"""The statutory holidays of a year, from 《全国年节及纪念日放假办法》 (2024 revision, in force from 2025).

元旦 1 day (01-01), 春节 4 days from 除夕, 清明节 1 (the 清明 solar term), 劳动节 2 days from 05-01,
端午节 1 (lunar 5-5), 中秋节 1 (lunar 8-15), 国庆节 3 days from 10-01. Lunar dates and the solar term
come from `lunar-python` (6tail's lunar calendar, 1900–2100 by astronomical computation), never a
hand-kept table.

Two uses: a *provisional* year (`calendar provisional YEAR`, DESIGN §7) while the State Council has
not yet published the year's schedule — those days rest when they fall Monday to Friday, with no
make-up days — and the check that a county file covering a year leaves none of them a working day.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta

from ..errors import ConfigError

__all__ = ["FIRST_STATUTORY_YEAR", "LAST_STATUTORY_YEAR", "statutory_holidays", "weekday_holidays"]

FIRST_STATUTORY_YEAR = 2025  # the 2024 revision's first year
LAST_STATUTORY_YEAR = 2099  # within lunar-python's range, far past any calendar file's bounds


@functools.cache
def _holidays(year: int) -> tuple[tuple[date, str], ...]:
    return tuple(_compute(year).items())


def statutory_holidays(year: int) -> dict[date, str]:
    """Each statutory holiday of `year` (2025 on) and its name; 中秋 and 国庆 may share a day."""
    return dict(_holidays(year))


def _compute(year: int) -> dict[date, str]:
    if not FIRST_STATUTORY_YEAR <= year <= LAST_STATUTORY_YEAR:
        raise ConfigError(
            f"法定节假日只按《全国年节及纪念日放假办法》（2024 年修订）推算 "
            f"{FIRST_STATUTORY_YEAR}–{LAST_STATUTORY_YEAR} 年，不含 {year} 年"
        )
    from lunar_python import Lunar, Solar  # a few ms to import: only when a year is built or checked

    def lunar(month: int, day: int) -> date:
        solar = Lunar.fromYmd(year, month, day).getSolar()
        return date(solar.getYear(), solar.getMonth(), solar.getDay())

    spring = lunar(1, 1) - timedelta(days=1)  # 除夕, the last day of the twelfth month
    qingming_solar = Solar.fromYmd(year, 4, 15).getLunar().getJieQiTable()["清明"]
    qingming = date(qingming_solar.getYear(), qingming_solar.getMonth(), qingming_solar.getDay())
    days: dict[date, list[str]] = {}
    spans = [
        (date(year, 1, 1), 1, "元旦"),
        (spring, 4, "春节"),
        (qingming, 1, "清明节"),
        (date(year, 5, 1), 2, "劳动节"),
        (lunar(5, 5), 1, "端午节"),
        (lunar(8, 15), 1, "中秋节"),
        (date(year, 10, 1), 3, "国庆节"),
    ]
    for first, length, name in spans:
        for i in range(length):
            days.setdefault(first + timedelta(days=i), []).append(name)
    return {d: "、".join(names) for d, names in sorted(days.items())}


def weekday_holidays(year: int) -> dict[date, str]:
    """The statutory holidays of `year` that fall Monday to Friday: days off in any schedule."""
    return {d: name for d, name in statutory_holidays(year).items() if d.weekday() < 5}

"""Dates, times, datetimes and timestamps (date_functions, datetime_functions, time_functions,
timestamp_functions pages)."""

import datetime

from tests.engines.conformance.case import Case, Fails, one

D = "date_functions"
T = "timestamp_functions"

CASES = [
    Case("SELECT DATE_DIFF(DATE '2024-03-01', DATE '2024-01-31', MONTH)", one(2), f"{D}#date_diff"),
    Case("SELECT DATE_DIFF(DATE '2024-03-01', DATE '2024-01-01', DAY)", one(60), f"{D}#date_diff"),
    Case("SELECT DATE_DIFF(DATE '2017-12-30', DATE '2014-12-30', YEAR)", one(3), f"{D}#date_diff"),
    Case("SELECT DATE_DIFF(DATE '2017-10-15', DATE '2017-10-14', WEEK)", one(1), f"{D}#date_diff"),
    Case("SELECT DATE_DIFF(DATE '2010-07-07', DATE '2008-12-25', DAY)", one(559), f"{D}#date_diff"),
    Case(
        "SELECT DATE_ADD(DATE '2008-12-25', INTERVAL 5 DAY)",
        one(datetime.date(2008, 12, 30)),
        f"{D}#date_add",
    ),
    Case(
        "SELECT DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH)",
        one(datetime.date(2024, 2, 29)),
        f"{D}#date_add",
    ),
    Case(
        "SELECT DATE_SUB(DATE '2008-12-25', INTERVAL 5 DAY)",
        one(datetime.date(2008, 12, 20)),
        f"{D}#date_sub",
    ),
    Case(
        "SELECT DATE_TRUNC(DATE '2008-12-25', MONTH)",
        one(datetime.date(2008, 12, 1)),
        f"{D}#date_trunc",
    ),
    Case(
        "SELECT DATE_TRUNC(DATE '2008-12-25', YEAR)",
        one(datetime.date(2008, 1, 1)),
        f"{D}#date_trunc",
    ),
    Case(
        "SELECT DATE_TRUNC(DATE '2017-11-05', WEEK)",
        one(datetime.date(2017, 11, 5)),
        f"{D}#date_trunc",
    ),
    Case(
        "SELECT DATE_TRUNC(DATE '2017-11-06', ISOWEEK)",
        one(datetime.date(2017, 11, 6)),
        f"{D}#date_trunc",
    ),
    Case(
        "SELECT EXTRACT(YEAR FROM DATE '2013-12-25'), EXTRACT(MONTH FROM DATE '2013-12-25')",
        one(2013, 12),
        f"{D}#extract",
    ),
    Case("SELECT EXTRACT(DAYOFWEEK FROM DATE '2024-01-07')", one(1), f"{D}#extract"),
    Case("SELECT EXTRACT(DAYOFYEAR FROM DATE '2024-12-31')", one(366), f"{D}#extract"),
    Case(
        "SELECT EXTRACT(ISOWEEK FROM DATE '2005-01-02'), EXTRACT(WEEK FROM DATE '2005-01-02')",
        one(53, 1),
        f"{D}#extract",
    ),
    Case("SELECT EXTRACT(QUARTER FROM DATE '2024-05-01')", one(2), f"{D}#extract"),
    Case("SELECT DATE(2016, 12, 25)", one(datetime.date(2016, 12, 25)), f"{D}#date"),
    Case(
        "SELECT DATE(TIMESTAMP '2016-12-25 23:30:00+00')",
        one(datetime.date(2016, 12, 25)),
        f"{D}#date",
    ),
    Case(
        "SELECT DATE(TIMESTAMP '2016-12-25 23:30:00+00', 'Asia/Tokyo')",
        one(datetime.date(2016, 12, 26)),
        f"{D}#date",
    ),
    Case("SELECT FORMAT_DATE('%Y%m%d', DATE '2008-12-25')", one("20081225"), f"{D}#format_date"),
    Case(
        "SELECT FORMAT_DATE('%b %d, %Y', DATE '2008-12-25')",
        one("Dec 25, 2008"),
        f"{D}#format_date",
    ),
    Case("SELECT LAST_DAY(DATE '2024-02-05')", one(datetime.date(2024, 2, 29)), f"{D}#last_day"),
    Case(
        "SELECT DATE_FROM_UNIX_DATE(14238)",
        one(datetime.date(2008, 12, 25)),
        f"{D}#date_from_unix_date",
    ),
    Case("SELECT UNIX_DATE(DATE '2008-12-25')", one(14238), f"{D}#unix_date"),
    Case(
        "SELECT DATE '2024-01-01' < DATE '2024-01-02'", one(True), "operators#comparison_operators"
    ),
    Case(
        "SELECT CAST(TIMESTAMP_MICROS(1230219000000000) AS STRING)",
        one("2008-12-25 15:30:00+00"),
        f"{T}#timestamp_micros",
    ),
    Case(
        "SELECT CAST(TIMESTAMP_MILLIS(1230219000000) AS STRING)",
        one("2008-12-25 15:30:00+00"),
        f"{T}#timestamp_millis",
    ),
    Case(
        "SELECT CAST(TIMESTAMP_SECONDS(1230219000) AS STRING)",
        one("2008-12-25 15:30:00+00"),
        f"{T}#timestamp_seconds",
    ),
    Case(
        "SELECT UNIX_SECONDS(TIMESTAMP '2008-12-25 15:30:00+00')",
        one(1230219000),
        f"{T}#unix_seconds",
    ),
    Case(
        "SELECT UNIX_MILLIS(TIMESTAMP '2008-12-25 15:30:00+00')",
        one(1230219000000),
        f"{T}#unix_millis",
    ),
    Case(
        "SELECT UNIX_MICROS(TIMESTAMP '2008-12-25 15:30:00+00')",
        one(1230219000000000),
        f"{T}#unix_micros",
    ),
    Case("SELECT EXTRACT(HOUR FROM TIMESTAMP '2008-12-25 05:30:00+00')", one(5), f"{T}#extract"),
    Case(
        "SELECT EXTRACT(HOUR FROM TIMESTAMP '2008-12-25 05:30:00+00' AT TIME ZONE 'America/Los_Angeles')",
        one(21),
        f"{T}#extract",
    ),
    Case(
        "SELECT TIMESTAMP_DIFF(TIMESTAMP '2010-07-07 10:20:00+00', TIMESTAMP '2008-12-25 15:30:00+00', HOUR)",
        one(13410),
        f"{T}#timestamp_diff",
    ),
    Case(
        "SELECT CAST(TIMESTAMP_ADD(TIMESTAMP '2008-12-25 15:30:00+00', INTERVAL 10 MINUTE) AS STRING)",
        one("2008-12-25 15:40:00+00"),
        f"{T}#timestamp_add",
    ),
    Case(
        "SELECT CAST(TIMESTAMP_TRUNC(TIMESTAMP '2008-12-25 15:30:00+00', DAY) AS STRING)",
        one("2008-12-25 00:00:00+00"),
        f"{T}#timestamp_trunc",
    ),
    Case(
        "SELECT FORMAT_TIMESTAMP('%Y-%m-%d %H:%M', TIMESTAMP '2008-12-25 15:30:00+00')",
        one("2008-12-25 15:30"),
        f"{T}#format_timestamp",
    ),
    Case(
        "SELECT CAST(TIMESTAMP('2008-12-25 15:30:00', 'America/Los_Angeles') AS STRING)",
        one("2008-12-25 23:30:00+00"),
        f"{T}#timestamp",
    ),
    Case(
        "SELECT CAST(TIMESTAMP(DATE '2008-12-25') AS STRING)",
        one("2008-12-25 00:00:00+00"),
        f"{T}#timestamp",
    ),
    Case(
        "SELECT DATETIME_DIFF(DATETIME '2010-07-07 10:20:00', DATETIME '2008-12-25 15:30:00', DAY)",
        one(559),
        "datetime_functions#datetime_diff",
    ),
    Case(
        "SELECT CAST(DATETIME(2008, 12, 25, 5, 30, 0) AS STRING)",
        one("2008-12-25 05:30:00"),
        "datetime_functions#datetime",
    ),
    Case(
        "SELECT CAST(DATETIME_TRUNC(DATETIME '2008-12-25 15:30:00', HOUR) AS STRING)",
        one("2008-12-25 15:00:00"),
        "datetime_functions#datetime_trunc",
    ),
    Case("SELECT CAST(TIME(15, 30, 0) AS STRING)", one("15:30:00"), "time_functions#time"),
    Case(
        "SELECT TIME_DIFF(TIME '15:30:00', TIME '14:35:00', MINUTE)",
        one(55),
        "time_functions#time_diff",
    ),
    Case(
        "SELECT CAST(TIME_ADD(TIME '15:30:00', INTERVAL 10 MINUTE) AS STRING)",
        one("15:40:00"),
        "time_functions#time_add",
    ),
    Case(
        "SELECT FORMAT_TIME('%H:%M', TIME '15:30:00')",
        one("15:30"),
        "time_functions#format_time",
        xfail="refused: DuckDB's strftime takes no TIME",
    ),
    Case(
        "SELECT CAST(PARSE_TIME('%H%M%S', '153000') AS STRING)",
        one("15:30:00"),
        "time_functions#parse_time",
    ),
    Case(
        "SELECT DATE_DIFF(DATE '2024-01-01', DATE '2024-03-01', MONTH)", one(-2), f"{D}#date_diff"
    ),
    Case(
        "SELECT EXTRACT(MILLISECOND FROM TIME '12:34:56.789'),"
        " EXTRACT(MICROSECOND FROM DATETIME '2020-01-01 12:34:56.789123')",
        one(789, 789123),
        "time_functions#extract",
    ),
    Case("SELECT DATE_ADD(DATE '9999-12-31', INTERVAL 1 DAY)", Fails("overflow"), f"{D}#date_add"),
    Case(
        "SELECT TIMESTAMP_SUB(TIMESTAMP '0001-01-01 00:00:00+00', INTERVAL 1 MICROSECOND)",
        Fails("overflow"),
        f"{T}#timestamp_sub",
    ),
    Case(
        "SELECT SAFE.DATE_ADD(DATE '9999-12-31', INTERVAL 1 DAY)",
        one(None),
        "functions-reference#safe_prefix",
    ),
    # a local time a DST change repeats or skips: the offset in force before the change
    Case(
        "SELECT CAST(TIMESTAMP '2024-11-03 01:30:00 America/New_York' AS STRING),"
        " CAST(TIMESTAMP '2024-03-10 02:30:00 America/New_York' AS STRING)",
        one("2024-11-03 05:30:00+00", "2024-03-10 07:30:00+00"),
        "data-types#time_zones",
    ),
]

"""Chinese formats that differ from Django's zh_Hans (the rest come from Django). Django puts ``%Y/%m/%d``
first among the input formats, so every DateInput rendered its value as ``2026/12/07``, which
``<input type="date">`` rejects (it takes ISO ``YYYY-MM-DD`` only): ISO comes first here. Django groups numbers
by 4 with no separator, so ``intcomma`` printed 1869 and 12345678 unchanged: thousands are grouped by 3 with a
comma, as in Chinese statistical tables. Templates name formats (``date:"DATE_FORMAT"``) rather than spelling
Chinese ones, so English pages show English dates."""

MONTH_DAY_FORMAT = "n月j日"

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%Y/%m/%d"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
]

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3

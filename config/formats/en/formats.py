# How the pages write dates and numbers in English (Django date format syntax).
DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "D j M Y H:i"
SHORT_DATE_FORMAT = "Y-m-d"
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3

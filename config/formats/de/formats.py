# Wie die Seiten Daten und Zahlen auf Deutsch schreiben (Djangos Datumsformat).
DATE_FORMAT = "j. F Y"
DATETIME_FORMAT = "D, j. M Y, H:i"
SHORT_DATE_FORMAT = "d.m.Y"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "."
NUMBER_GROUPING = 3

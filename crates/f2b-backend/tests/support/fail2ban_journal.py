#!/usr/bin/env python3
# Prints, one JSON array per line, what fail2ban 1.0.2 makes of every entry of the journal files
# given as arguments: [line, time]. Exit 3 when fail2ban or python3-systemd is missing.
import json
import sys

try:
    from systemd import journal
    from fail2ban.server.filtersystemd import FilterSystemd
except Exception as e:  # either package absent
    print("missing: %s" % e, file=sys.stderr)
    sys.exit(3)


class Jail:
    """Just what formatJournalEntry asks of its filter object."""
    jailName = "test"

    def getLogEncoding(self):
        return sys.argv[1]

    def getJrnEntTime(self, entry):
        return FilterSystemd.getJrnEntTime(self, entry)


def main():
    enc, files = sys.argv[1], sys.argv[2:]
    reader = journal.Reader(files=files, converters={'__CURSOR': lambda x: x})
    reader.seek_head()
    fake = Jail()
    for entry in reader:
        (_, _, line), tm = FilterSystemd.formatJournalEntry(fake, entry)
        print(json.dumps([line, tm]))


main()

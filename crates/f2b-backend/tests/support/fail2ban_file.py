#!/usr/bin/env python3
# Prints, one JSON string per line, the lines fail2ban's FileContainer reads from a file
# (argv[2]) with a log encoding (argv[1]). Exit 3 when fail2ban is missing.
import json
import sys

try:
    from fail2ban.server.filter import FileContainer
except Exception as e:
    print("missing: %s" % e, file=sys.stderr)
    sys.exit(3)

container = FileContainer(sys.argv[2], sys.argv[1], doOpen=True)
for line in container:
    print(json.dumps(line))

"""Prints how many bins the histogram of observer LABEL in FILE has and how
many values they hold (FileCheck regexes are too slow for 2048 numbers)."""
import re
import sys

text = open(sys.argv[1]).read()
match = re.search(r'"%s" [^\n]*histogram = <[^>]*counts = \[([0-9, ]*)\]>' %
                  re.escape(sys.argv[2]), text)
if not match:
    sys.exit("no histogram on observer " + sys.argv[2])
counts = [int(c) for c in match.group(1).split(",")]
print("%d bins holding %d values" % (len(counts), sum(counts)))

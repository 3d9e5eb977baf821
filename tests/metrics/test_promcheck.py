#!/usr/bin/python3
"""test_promcheck.py — the exposition checker itself: it accepts a valid
exposition (including escapes and a histogram with labels) and rejects each
kind of defect, so a green metrics test means something."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgtest import tap        # noqa: E402
from promcheck import check, value, values_by   # noqa: E402

GOOD = '''# HELP a_total Things that happened.
# TYPE a_total counter
a_total{kind="x"} 3
a_total{kind="y \\"q\\" \\\\ \\n"} 0
# HELP g A gauge.
# TYPE g gauge
g 1.5e3
# HELP h_seconds A histogram.
# TYPE h_seconds histogram
h_seconds_bucket{op="r",le="0.1"} 1
h_seconds_bucket{op="r",le="1"} 3
h_seconds_bucket{op="r",le="+Inf"} 4
h_seconds_sum{op="r"} 7.25
h_seconds_count{op="r"} 4
'''

HIST = '''# HELP h A histogram.
# TYPE h histogram
'''

BAD = [
    ('no TYPE', '# HELP x_total X.\nx_total 1\n'),
    ('no HELP', '# TYPE x_total counter\nx_total 1\n'),
    ('no TYPE or HELP at all', 'x_total 1\n'),
    ('TYPE after samples', '# HELP g G.\ng 1\n# TYPE g gauge\n'),
    ('two TYPE lines', '# HELP g G.\n# TYPE g gauge\n# TYPE g gauge\ng 1\n'),
    ('unknown type', '# HELP g G.\n# TYPE g meter\ng 1\n'),
    ('counter without _total', '# HELP c C.\n# TYPE c counter\nc 1\n'),
    ('negative counter', '# HELP c_total C.\n# TYPE c_total counter\nc_total -1\n'),
    ('bad metric name', '# HELP g G.\n# TYPE g gauge\n1g 1\n'),
    ('bad label name', '# HELP g G.\n# TYPE g gauge\ng{1a="x"} 1\n'),
    ('reserved label name', '# HELP g G.\n# TYPE g gauge\ng{__x="x"} 1\n'),
    ('duplicate label', '# HELP g G.\n# TYPE g gauge\ng{a="x",a="y"} 1\n'),
    ('bad label escape', '# HELP g G.\n# TYPE g gauge\ng{a="\\t"} 1\n'),
    ('unterminated label', '# HELP g G.\n# TYPE g gauge\ng{a="x} 1\n'),
    ('bad value', '# HELP g G.\n# TYPE g gauge\ng one\n'),
    ('timestamp', '# HELP g G.\n# TYPE g gauge\ng 1 1700000000000\n'),
    ('duplicate series', '# HELP g G.\n# TYPE g gauge\ng{a="x"} 1\ng{a="x"} 2\n'),
    ('not contiguous', '# HELP g G.\n# TYPE g gauge\n# HELP f F.\n# TYPE f gauge\ng 1\nf 1\ng{a="b"} 1\n'),
    ('no final newline', '# HELP g G.\n# TYPE g gauge\ng 1'),
    ('bucket without le', HIST + 'h_bucket 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    ('buckets out of order', HIST + 'h_bucket{le="1"} 1\nh_bucket{le="0.5"} 1\n'
                                    'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    ('not cumulative', HIST + 'h_bucket{le="0.5"} 2\nh_bucket{le="1"} 1\n'
                              'h_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'),
    ('no +Inf', HIST + 'h_bucket{le="0.5"} 1\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'),
    ('+Inf != count', HIST + 'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'),
    ('no _count', HIST + 'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\n'),
    ('bare histogram sample', HIST + 'h 1\n'),
    ('le on _sum', HIST + 'h_bucket{le="+Inf"} 1\nh_sum{le="1"} 1\nh_count 1\n'),
]


def main():
    errors, fams = check(GOOD)
    tap.is_(errors, [], 'a valid exposition passes')
    tap.is_(value(fams, 'a_total', kind='x'), 3, 'value() finds a labelled sample')
    tap.is_(values_by(fams, 'a_total', 'kind'), {'x': 3, 'y "q" \\ \n': 0},
            'label values are unescaped')
    tap.is_(value(fams, 'h_seconds_count', op='r'), 4, 'histogram _count by label')
    tap.is_(value(fams, 'g'), 1500.0, 'float value')
    for name, text in BAD:
        errors, _ = check(text)
        tap.ok(errors, 'rejected: %s' % name, 'the checker accepted:\n' + text)
    tap.done()


main()

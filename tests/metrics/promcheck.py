"""promcheck.py — a strict checker of the Prometheus text exposition format
0.0.4, written from the format's documentation (not from our renderer), for
the metrics tests; promtool is not needed.

check(text) -> (errors, families)
  errors:   a list of one-line problems (empty when the text is valid)
  families: {family_name: Family} with .type, .help and .samples, a list of
            (sample_name, labels_dict, value)

Stricter than the format requires, on purpose (these are our own rules):
every family has one HELP and one TYPE line before its first sample (no
untyped samples), counters are named *_total, and no sample carries a
timestamp.

value(families, name, **labels) -> the one sample's value (KeyError if none)
values_by(families, name, label) -> {label_value: value} over the family
"""

import math
import re

NAME_RE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
LABEL_RE = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*$')
TYPES = ('counter', 'gauge', 'histogram', 'summary', 'untyped')
FLOAT_RE = re.compile(r'^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$')


class Family:
    def __init__(self, name):
        self.name = name
        self.type = None
        self.help = None
        self.samples = []

    def __repr__(self):
        return 'Family(%s %s, %d samples)' % (self.name, self.type, len(self.samples))


def parse_value(s):
    """A sample value as Go's ParseFloat reads it, or None."""
    if s in ('+Inf', 'Inf'):
        return math.inf
    if s == '-Inf':
        return -math.inf
    if s == 'NaN':
        return math.nan
    return float(s) if FLOAT_RE.match(s) else None


def parse_labels(text):
    """'a="x",b="y\\n"' -> ({'a': 'x', 'b': 'y\\n'}, None) or (None, why)."""
    labels, i, n = {}, 0, len(text)
    while i < n:
        m = re.match(r'[a-zA-Z_][a-zA-Z0-9_]*', text[i:])
        if not m:
            return None, 'bad label name at %r' % text[i:i + 20]
        key = m.group(0)
        i += len(key)
        if text[i:i + 2] != '="':
            return None, 'label %s: expected ="' % key
        i += 2
        val = []
        while True:
            if i >= n:
                return None, 'label %s: unterminated value' % key
            c = text[i]
            if c == '\\':
                esc = text[i + 1:i + 2]
                if esc not in ('\\', '"', 'n'):
                    return None, 'label %s: bad escape \\%s' % (key, esc)
                val.append('\n' if esc == 'n' else esc)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == '\n':
                return None, 'label %s: raw newline in value' % key
            else:
                val.append(c)
                i += 1
        if key.startswith('__'):
            return None, 'label %s: reserved name' % key
        if key in labels:
            return None, 'label %s given twice' % key
        labels[key] = ''.join(val)
        if i < n:
            if text[i] != ',':
                return None, 'expected , after label %s' % key
            i += 1
    return labels, None


def split_sample(line):
    """'name{labels} value' -> (name, labels_text or None, rest) or None."""
    m = re.match(r'^([^{\s]+)(\{)?', line)
    if not m:
        return None
    name = m.group(1)
    if not m.group(2):
        return name, None, line[len(name):]
    # find the closing brace outside quoted values
    i, quoted = len(name) + 1, False
    while i < len(line):
        c = line[i]
        if quoted and c == '\\':
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == '}' and not quoted:
            return name, line[len(name) + 1:i], line[i + 1:]
        i += 1
    return None


def family_of(sample_name, families):
    """The declared family a sample belongs to (histogram/summary suffixes)."""
    if sample_name in families:
        return sample_name
    for suffix in ('_bucket', '_sum', '_count'):
        if sample_name.endswith(suffix):
            base = sample_name[:-len(suffix)]
            if base in families and families[base].type in ('histogram', 'summary'):
                if suffix != '_bucket' or families[base].type == 'histogram':
                    return base
    return None


def check(text):
    errors = []
    families = {}
    order = []            # families in the order their samples appear
    seen_series = set()

    def err(lineno, msg):
        errors.append('line %d: %s' % (lineno, msg))

    if text and not text.endswith('\n'):
        errors.append('the exposition does not end with a newline')
    for lineno, line in enumerate(text.split('\n')[:-1] if text.endswith('\n') else text.split('\n'), 1):
        if line.strip() == '':
            continue
        if line.startswith('#'):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ('HELP', 'TYPE'):
                if len(parts) < 3 or not NAME_RE.match(parts[2]):
                    err(lineno, 'bad %s line' % parts[1])
                    continue
                name = parts[2]
                fam = families.setdefault(name, Family(name))
                if fam.samples:
                    err(lineno, '%s for %s after its samples' % (parts[1], name))
                if parts[1] == 'TYPE':
                    t = parts[3].strip() if len(parts) > 3 else ''
                    if t not in TYPES:
                        err(lineno, 'unknown type %r for %s' % (t, name))
                    if fam.type is not None:
                        err(lineno, 'second TYPE for %s' % name)
                    fam.type = t
                else:
                    if fam.help is not None:
                        err(lineno, 'second HELP for %s' % name)
                    h = parts[3] if len(parts) > 3 else ''
                    if re.search(r'\\[^\\n]', h.replace('\\\\', '')):
                        err(lineno, 'bad escape in HELP of %s' % name)
                    fam.help = h
            continue
        sp = split_sample(line)
        if not sp:
            err(lineno, 'unparsable sample %r' % line[:80])
            continue
        name, ltext, rest = sp
        if not NAME_RE.match(name):
            err(lineno, 'bad metric name %r' % name)
            continue
        labels, why = parse_labels(ltext) if ltext is not None else ({}, None)
        if labels is None:
            err(lineno, '%s: %s' % (name, why))
            continue
        if not rest.startswith(' ') and not rest.startswith('\t'):
            err(lineno, '%s: no blank before the value' % name)
            continue
        fields = rest.split()
        if len(fields) != 1:
            err(lineno, '%s: expected one value and no timestamp, got %r' % (name, rest.strip()))
            continue
        v = parse_value(fields[0])
        if v is None:
            err(lineno, '%s: bad value %r' % (name, fields[0]))
            continue
        fname = family_of(name, families)
        if fname is None or families[fname].type is None:
            err(lineno, 'sample %s has no TYPE line before it' % name)
            continue
        fam = families[fname]
        if fam.help is None:
            err(lineno, 'family %s has no HELP line' % fname)
        if order and order[-1] != fname and fname in order:
            err(lineno, 'samples of %s are not contiguous' % fname)
        if not order or order[-1] != fname:
            order.append(fname)
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            err(lineno, 'duplicate series %s%r' % (name, labels))
        seen_series.add(key)
        if fam.type in ('counter', 'gauge', 'untyped') and name != fname:
            err(lineno, '%s sample %s does not carry the family name' % (fam.type, name))
        if fam.type == 'counter':
            if not fname.endswith('_total'):
                err(lineno, 'counter %s does not end in _total' % fname)
            if not (v >= 0):
                err(lineno, 'counter %s is negative or NaN' % name)
        if fam.type == 'histogram':
            if name == fname:
                err(lineno, 'histogram %s: bare sample (use _bucket, _sum, _count)' % name)
            if name.endswith('_bucket') and 'le' not in labels:
                err(lineno, '%s without le' % name)
            if not name.endswith('_bucket') and 'le' in labels:
                err(lineno, '%s with le' % name)
        fam.samples.append((name, labels, v))
    for fam in families.values():
        if fam.type is None:
            errors.append('family %s has HELP but no TYPE' % fam.name)
        if fam.type == 'histogram':
            errors.extend(check_histogram(fam))
    return errors, families


def check_histogram(fam):
    """Buckets sorted by le, cumulative (non-decreasing), +Inf present and
    equal to _count, _sum and _count present — per label set."""
    errors = []
    groups = {}
    for name, labels, v in fam.samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != 'le'))
        g = groups.setdefault(rest, {'buckets': [], 'sum': None, 'count': None})
        if name.endswith('_bucket'):
            le = parse_value(labels.get('le', ''))
            if le is None or math.isnan(le):
                errors.append('%s: bad le %r' % (fam.name, labels.get('le')))
                continue
            g['buckets'].append((le, v))
        elif name.endswith('_sum'):
            g['sum'] = v
        elif name.endswith('_count'):
            g['count'] = v
    for rest, g in groups.items():
        where = '%s%s' % (fam.name, dict(rest) or '')
        b = g['buckets']
        if not b:
            errors.append('%s: no buckets' % where)
            continue
        les = [le for le, _ in b]
        if les != sorted(les) or len(set(les)) != len(les):
            errors.append('%s: buckets not in increasing le order' % where)
        vals = [v for _, v in b]
        if any(y < x for x, y in zip(vals, vals[1:])):
            errors.append('%s: bucket counts are not cumulative: %r' % (where, vals))
        if les[-1] != math.inf:
            errors.append('%s: no le="+Inf" bucket last' % where)
        if g['count'] is None or g['sum'] is None:
            errors.append('%s: _sum or _count missing' % where)
        elif les[-1] == math.inf and vals[-1] != g['count']:
            errors.append('%s: +Inf bucket %r != _count %r' % (where, vals[-1], g['count']))
        if g['sum'] is not None and g['sum'] < 0:
            errors.append('%s: negative _sum' % where)
    return errors


def value(families, name, **labels):
    fname = family_of(name, families)
    if fname is None:
        raise KeyError(name)
    for n, l, v in families[fname].samples:
        if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
            if len(labels) == len([k for k in l if k in labels]):
                return v
    raise KeyError('%s%r' % (name, labels))


def values_by(families, name, label):
    fname = family_of(name, families)
    if fname is None:
        return {}
    return {l.get(label): v for n, l, v in families[fname].samples if n == name}

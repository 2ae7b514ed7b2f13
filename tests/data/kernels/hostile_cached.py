"""Return the output of the first call of each shape on every later call, so
only one call per shape does any work. Expected: wrong-answer (new input
values every call, every output checked)."""
_cache = {}


def custom_kernel(data):
    key = tuple(data[0].shape) + (float(data[1].min()),)
    if key not in _cache:
        _cache[key] = trimul(data)
    return _cache[key]

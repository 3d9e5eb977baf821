"""deflate_util.py — helpers shared by the permessage-deflate tests: RFC 7692
payloads built and read with Python's zlib (independent of our codec), a raw
socket client that offers the extension, and websockets connections that
negotiate it.

  compress(data) -> bytes     raw deflate, sync flush, 00 00 ff ff removed
  inflate(payload) -> bytes   the receiver's side (appends the tail)
  OFFER                       the offer a browser sends
  RawDeflate(d, path, offer=OFFER, protocols=None)   a RawWS with the offer
  ws_deflate(d, path, proto=None, **kw)   websockets connect with compression
  pmd_of(ws) -> the negotiated PerMessageDeflate extension or None
"""

import zlib

from pgtest import RawWS, ws_connect, websockets

OFFER = 'permessage-deflate; client_max_window_bits'
TAIL = b'\x00\x00\xff\xff'


def compress(data, level=6):
    if isinstance(data, str):
        data = data.encode('utf-8')
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def inflate(payload):
    d = zlib.decompressobj(-15)
    return d.decompress(payload + TAIL) + d.flush()


def RawDeflate(d, path, offer=OFFER, protocols=None):
    headers = {'Sec-WebSocket-Extensions': offer} if offer else None
    return RawWS(d, path, protocols=protocols, headers=headers)


def ws_deflate(d, path, proto=None, **kw):
    kw.setdefault('compression', 'deflate')
    return ws_connect(d, path, proto, **kw)


def pmd_of(ws):
    for e in getattr(ws, 'extensions', None) or []:
        if e.name == 'permessage-deflate':
            return e
    return None


def message_of(frames):
    """Joins the data frames of one message: (opcode, rsv of the first
    frame, payload inflated when RSV1 was set)."""
    data = [f for f in frames if f.opcode in (0, 1, 2)]
    if not data:
        return None
    payload = b''.join(f.payload for f in data)
    rsv = data[0].rsv
    return data[0].opcode, rsv, inflate(payload) if rsv & 4 else payload

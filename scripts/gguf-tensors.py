#!/usr/bin/env python3
"""Lists a GGUF's tensors, one a line: name, type, the first 16 hex digits of the sha256 of its bytes. Makes the
deep-TYPE.tensors fixtures (src/test/resources/models, README there) from llama.cpp's own files without committing
them. usage: gguf-tensors.py FILE.gguf
"""
import struct, sys, hashlib
NAMES = {0:'F32',1:'F16',2:'Q4_0',3:'Q4_1',6:'Q5_0',7:'Q5_1',8:'Q8_0',10:'Q2_K',11:'Q3_K',12:'Q4_K',13:'Q5_K',14:'Q6_K',30:'BF16'}
SIZES = {'F32':(1,4),'F16':(1,2),'Q4_0':(32,18),'Q4_1':(32,20),'Q5_0':(32,22),'Q5_1':(32,24),'Q8_0':(32,34),'Q4_K':(256,144),'Q5_K':(256,176),'Q6_K':(256,210),'BF16':(1,2)}
d = open(sys.argv[1], 'rb').read(); p = 4
ver, nt, nkv = struct.unpack_from('<IQQ', d, p); p += 20
def s():
    global p
    n, = struct.unpack_from('<Q', d, p); p += 8; r = d[p:p+n]; p += n; return r.decode()
def val(t):
    global p
    fmt = {0:'B',1:'b',2:'H',3:'h',4:'I',5:'i',6:'f',7:'?',10:'Q',11:'q',12:'d'}
    if t == 8: return s()
    if t == 9:
        et, n = struct.unpack_from('<IQ', d, p); p += 12
        return [val(et) for _ in range(n)]
    v, = struct.unpack_from('<' + fmt[t], d, p); p += struct.calcsize(fmt[t]); return v
align = 32
for _ in range(nkv):
    k = s(); t, = struct.unpack_from('<I', d, p); p += 4; v = val(t)
    if k == 'general.alignment': align = v
infos = []
for _ in range(nt):
    n = s(); nd, = struct.unpack_from('<I', d, p); p += 4
    dims = struct.unpack_from('<%dQ' % nd, d, p); p += 8 * nd
    t, off = struct.unpack_from('<IQ', d, p); p += 12
    infos.append((n, dims, NAMES[t], off))
base = (p + align - 1) // align * align
for n, dims, t, off in infos:
    el = 1
    for x in dims: el *= x
    bs, bb = SIZES[t]
    print(n, t, hashlib.sha256(d[base+off: base+off+el//bs*bb]).hexdigest()[:16])

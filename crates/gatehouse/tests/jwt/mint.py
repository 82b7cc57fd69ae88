#!/usr/bin/env python3
"""Mints the JWT test material with PyJWT + cryptography (independent of the Rust verifier).

Usage: mint.py ISSUER OTHER_ISSUER HS_ISSUER SECRET
Prints one JSON object: PEMs, JWKS documents (initial and rotated) and named tokens.
"""
import base64
import hashlib
import hmac
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

issuer, other_issuer, hs_issuer, secret = sys.argv[1:5]
now = int(time.time())


def pem(public_key):
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def jwk(alg_cls, key, kid, alg):
    d = json.loads(alg_cls.to_jwk(key.public_key()))
    d.update({"kid": kid, "use": "sig", "alg": alg})
    return d


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


rsa1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
rsa2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec1 = ec.generate_private_key(ec.SECP256R1())
ed1 = ed25519.Ed25519PrivateKey.generate()
other = ec.generate_private_key(ec.SECP384R1())

jwks = {"keys": [jwk(RSAAlgorithm, rsa1, "rsa1", "RS256"), jwk(ECAlgorithm, ec1, "ec1", "ES256"),
                 jwk(OKPAlgorithm, ed1, "ed1", "EdDSA"), jwk(RSAAlgorithm, rsa1, "rsa1-ps", "PS256")]}
rotated = {"keys": jwks["keys"] + [jwk(RSAAlgorithm, rsa2, "rsa2", "RS256")]}


def claims(**over):
    c = {"iss": issuer, "sub": "user-1", "aud": "api", "iat": now, "exp": now + 3600,
         "scope": "orders.read orders.write", "tenant": "acme", "email": "u1@idp.test"}
    for k, v in over.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def rs(payload, kid="rsa1", key=rsa1, headers=None, alg="RS256"):
    h = {"kid": kid}
    h.update(headers or {})
    return jwt.encode(payload, key, algorithm=alg, headers=h)


def unsigned(header, payload, sig=b""):
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode()) + "." + b64(sig)


rsa_pub_pem = pem(rsa1.public_key())
confusion_signing_input = (b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa1"}).encode())
                           + "." + b64(json.dumps(claims()).encode()))
confusion = confusion_signing_input + "." + b64(
    hmac.new(rsa_pub_pem.encode(), confusion_signing_input.encode(), hashlib.sha256).digest())

tokens = {
    "valid_rs256": rs(claims()),
    "valid_ps256": rs(claims(), kid="rsa1-ps", alg="PS256"),
    "valid_es256": jwt.encode(claims(), ec1, algorithm="ES256", headers={"kid": "ec1"}),
    "valid_eddsa": jwt.encode(claims(), ed1, algorithm="EdDSA", headers={"kid": "ed1"}),
    "valid_aud_array": rs(claims(aud=["other", "api"])),
    "valid_no_kid": jwt.encode(claims(), rsa1, algorithm="RS256"),
    "valid_spoof_sub": rs(claims(sub="real-user")),
    "valid_other_issuer": jwt.encode(claims(iss=other_issuer, sub="user-2"), other, algorithm="ES384"),
    "valid_hs256": jwt.encode(claims(iss=hs_issuer, sub="user-3"), secret, algorithm="HS256"),
    "rotated": rs(claims(), kid="rsa2", key=rsa2),
    "expired": rs(claims(exp=now - 3600, iat=now - 7200)),
    "expired_within_leeway": rs(claims(exp=now - 5)),
    "nbf_future": rs(claims(nbf=now + 600)),
    "iat_future": rs(claims(iat=now + 600)),
    "no_exp": rs(claims(exp=None)),
    "wrong_iss": rs(claims(iss="https://evil.test/")),
    "no_iss": rs(claims(iss=None)),
    "wrong_aud": rs(claims(aud="someone-else")),
    "missing_claim": rs(claims(sub=None)),
    "wrong_claim_value": rs(claims(tenant="globex")),
    "alg_none": unsigned({"alg": "none", "typ": "JWT", "kid": "rsa1"}, claims()),
    "alg_none_caps": unsigned({"alg": "NONE", "typ": "JWT"}, claims()),
    "hs256_confusion": confusion,
    "alg_not_pinned": rs(claims(), alg="RS512"),
    "es256_with_rsa_kid": jwt.encode(claims(), ec1, algorithm="ES256", headers={"kid": "rsa1"}),
    "other_issuer_wrong_key": jwt.encode(claims(iss=other_issuer), ec.generate_private_key(ec.SECP384R1()),
                                         algorithm="ES384"),
    "crit": rs(claims(), headers={"crit": ["urn:example:ext"], "urn:example:ext": True}),
    "jku": rs(claims(), headers={"jku": "http://127.0.0.1:9/jwks.json"}),
    "x5u": rs(claims(), headers={"x5u": "http://127.0.0.1:9/cert.pem"}),
    "jwk": rs(claims(), headers={"jwk": jwk(RSAAlgorithm, rsa1, "rsa1", "RS256")}),
    "bad_signature": rs(claims())[:-6] + "AAAAAA",
    "oversized": rs(claims(pad="x" * 9000)),
    "unknown_kid": rs(claims(), kid="nobody", key=rsa2),
    # Validly signed, but the identity cannot be forwarded as a header value.
    "sub_crlf": rs(claims(sub="user-1\r\nX-User-Roles: admin")),
    "sub_lf": rs(claims(sub="user-1\nx")),
    "sub_nul": rs(claims(sub="user-1\u0000admin")),
    "sub_tab": rs(claims(sub="user\t1")),
    "sub_del": rs(claims(sub="user-1\u007f")),
    "sub_c1": rs(claims(sub="user-1\u0085x")),
    "sub_padded": rs(claims(sub=" user-1 ")),
    "sub_empty": rs(claims(sub="")),
    "sub_number": rs(claims(sub=42)),
    "sub_object": rs(claims(sub={"id": "user-1"})),
    "sub_array": rs(claims(sub=["user-1", "admin"])),
    "sub_bool": rs(claims(sub=True)),
    "sub_unicode": rs(claims(sub="jos\u00e9")),
    "email_crlf": rs(claims(email="u1@idp.test\r\nX-Admin: 1")),
    "email_object": rs(claims(email={"primary": "u1@idp.test"})),
    "email_array": rs(claims(email=["u1@idp.test", "admin@idp.test"])),
    "email_absent": rs(claims(email=None)),
    "role_with_comma": rs(claims(scope=["orders.read,admin"])),
    "role_with_crlf": rs(claims(scope=["orders.read", "x\r\nX-Admin: 1"])),
    "valid_rs256_other_sub": rs(claims(sub="user-9")),
}
forged = [rs(claims(), kid=f"forged-{i}", key=rsa2) for i in range(1000)]

print(json.dumps({
    "rsa_pem": rsa_pub_pem,
    "ec_pem": pem(ec1.public_key()),
    "ed_pem": pem(ed1.public_key()),
    "other_pem": pem(other.public_key()),
    "ec_jwk": json.dumps(jwk(ECAlgorithm, ec1, "ec1", "ES256")),
    "jwks": jwks,
    "jwks_rotated": rotated,
    "tokens": tokens,
    "forged": forged,
}))

"""The emulator reproduces the test vectors of LOGIN_PROTOCOL.md §5.2 byte for byte."""

from __future__ import annotations

import base64
import json

from flask.testing import FlaskClient
from nacl.signing import SigningKey

from emulators.connect.kyc import KycService
from emulators.connect.login_request import parse_login_request
from emulators.connect.phone import Switches, build_signed_attempt, compact_json, scope_data
from emulators.connect.users import DEFAULT_KYC_SEED, default_users, derived_seed

ALICE_PUBLIC_KEY = "Kay64UG8yvCyLhqU000LxzYeUm0L/hLIl5S8kyKWbdc="
KYC_VERIFY_KEY_HEX = "2543b92ff1095511476adc8369db6ddc933665a11978dda1404ee1066ca9559d"
MP_BOX_PK = "RwHQhIhFH1RaQJ+1iuPlhYHKQKw/fxFGmM1x3qxzygE="
SEI = (
    "MQXtqEFsGBvGqg3DccwJNB2GHTPZl9ikRy+J8KE71X+9jdsN2LGerNF6JyOeiEdWkqmmYIJ8IU03wzOafMASBXsgImVtYWlsIjogImFsaWNl"
    "QGV4YW1wbGUuY29tIiwgImlkZW50aWZpZXIiOiAiYWxpY2UuM2JvdCIgfQ=="
)
CIPHERTEXT = (
    "F0Fy7Ot1gLXsRXptytNjskkzcjK5O5D+xSaQZtc75ySlsoQvONp4kdFTyXqNmQiN0uimKDKIK++iHcyMBmGusenK90IbFg0klRXEkgqEnrF+"
    "K25R+tPxcOxPYCkaJ8hApcbC5G/g+ygIu0zMN2JyU9a0fFNHHI5peDWdCb8B9ZQVBniH9J1KmImq9P4Jf7MBuIfGPLNA13rnMuTcpO+QwIjL"
    "GyjFwf/zIBdnsoCyQThphzXzsMsmQkf1S37IYVrZOcuaGp4951sZcbEX/2ypTYBGEVWhyT4SRVLmh8FI0xlpFjkWBHobZg=="
)
SIGNED_ATTEMPT = (
    "epa6mTXgV5mQd/0Uf/r1D6Gvmo0czoxKl8HLmJFMXxQCemFf4K31ON/OLpEk2htqZnsWuEHjfUyCLUc0Nd9VBnsic2lnbmVkU3RhdGUiOiJacTNM"
    "bU44cFIydFY2d1h5MUI0Y0Q3Zkc5aEowa001biIsImRhdGEiOnsibm9uY2UiOiJCd2NIQndjSEJ3Y0hCd2NIQndjSEJ3Y0hCd2NIQndjSCIsImNp"
    "cGhlcnRleHQiOiJGMEZ5N090MWdMWHNSWHB0eXROanNra3pjaks1TzVEK3hTYVFadGM3NXlTbHNvUXZPTnA0a2RGVHlYcU5tUWlOMHVpbUtES0lL"
    "KytpSGN5TUJtR3VzZW5LOTBJYkZnMGtsUlhFa2dxRW5yRitLMjVSK3RQeGNPeFBZQ2thSjhoQXBjYkM1Ry9nK3lnSXUwek1OMkp5VTlhMGZGTkhI"
    "STVwZURXZENiOEI5WlFWQm5pSDlKMUttSW1xOVA0SmY3TUJ1SWZHUExOQTEzcm5NdVRjcE8rUXdJakxHeWpGd2YveklCZG5zb0N5UVRocGh6WHpz"
    "TXNtUWtmMVMzN0lZVnJaT2N1YUdwNDk1MXNaY2JFWC8yeXBUWUJHRVZXaHlUNFNSVkxtaDhGSTB4bHBGamtXQkhvYlpnPT0ifSwic2VsZWN0ZWRJ"
    "bWFnZUlkIjozLCJkb3VibGVOYW1lIjoiYWxpY2UuM2JvdCIsInJhbmRvbVJvb20iOiJhMWIyYzMiLCJhcHBJZCI6Im1hcmtldHBsYWNlLmV4YW1w"
    "bGUub3JnIn0="
)
VECTOR_REQUEST = {
    "state": "Zq3LmN8pR2tV6wXy1B4cD7fG9hJ0kM5n",
    "appid": "marketplace.example.org",
    "scope": '{"user": true, "email": true}',
    "redirecturl": "/auth/3bot_callback",
    "publickey": MP_BOX_PK,
}


def test_marketplace_box_key_of_the_vector_matches() -> None:
    # Guards the inputs of the other vectors: the marketplace seed 0x00..0x1f gives the documented box key.
    converted = SigningKey(bytes(range(32))).verify_key.to_curve25519_public_key()
    assert base64.b64encode(bytes(converted)).decode() == MP_BOX_PK


def test_alice_publishes_the_vector_public_key(client: FlaskClient) -> None:
    response = client.get("/api/users/alice.3bot")
    assert response.status_code == 200
    assert response.get_json() == {"doublename": "alice.3bot", "publicKey": ALICE_PUBLIC_KEY, "device_id": ""}


def test_bob_and_carol_keys_are_sha256_of_their_names() -> None:
    users = {user.double_name: user for user in default_users()}
    assert users["bob.3bot"].seed == derived_seed("bob.3bot")
    assert users["carol.3bot"].seed == derived_seed("carol.3bot")
    assert [u.email for u in users.values()] == ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert len({u.verify_key for u in users.values()}) == 3


def test_kyc_key_and_sei_match_the_vector(client: FlaskClient) -> None:
    kyc = KycService(DEFAULT_KYC_SEED)
    assert kyc.verify_key_hex == KYC_VERIFY_KEY_HEX
    assert kyc.sign("alice@example.com", "alice.3bot") == SEI
    assert client.get("/verification/public-key").get_data(as_text=True) == KYC_VERIFY_KEY_HEX


def test_scope_data_plaintext_matches_the_vector() -> None:
    alice = default_users()[0]
    login = parse_login_request(VECTOR_REQUEST)
    plaintext = compact_json(scope_data(alice, login, KycService(DEFAULT_KYC_SEED), Switches()))
    assert plaintext == '{"email":{"email":"alice@example.com","sei":"' + SEI + '"}}'


def test_signed_attempt_matches_the_vector() -> None:
    alice = default_users()[0]
    signed = build_signed_attempt(
        alice,
        parse_login_request(VECTOR_REQUEST),
        KycService(DEFAULT_KYC_SEED),
        nonce=b"\x07" * 24,
        random_room="a1b2c3",
        selected_image_id=3,
    )
    attempt = json.loads(signed.attempt_json)
    assert attempt["data"] == {"nonce": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH", "ciphertext": CIPHERTEXT}
    assert signed.relayed == {"signedAttempt": SIGNED_ATTEMPT, "doubleName": "alice.3bot"}

"""The Authorize.Net adapter against requests-mock, the gateway's answers written from its
published API reference and sample code (authorize-net-facts.md): exact request bodies in XSD
order, every answer family, the BOM, and the outcomes that are unknown."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import requests

from connector.processors import ChargeRef, LookupStatus, ProcessorUnavailable
from connector.processors.authorize_net import (
    AuthorizeNetProcessor,
    AuthorizeNetSettings,
    MemoryAuthorizeNetStore,
)
from connector.protocol import parse_envelope, validate
from connector.redact import mask_long_numbers
from tests.conftest import TEST_CVV, VISA, ach_charge, card_charge, tokenize

URL = "https://apitest.authorize.net/xml/v1/request.api"
LOGIN, KEY = "5KP3u95bQpv", "346HZ32z3fP4hTG2"
BOM = b"\xef\xbb\xbf"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
OK = {"resultCode": "Ok", "message": [{"code": "I00001", "text": "Successful."}]}
UNSUCCESSFUL = {
    "resultCode": "Error",
    "message": [{"code": "E00027", "text": "The transaction was unsuccessful."}],
}
AUTH = {"name": LOGIN, "transactionKey": KEY}


def reply(body: dict, *, bom: bool = True) -> dict:
    """A requests-mock response as Authorize.Net sends it: a UTF-8 BOM, then the JSON."""
    return {
        "content": (BOM if bom else b"") + json.dumps(body).encode(),
        "headers": {"Content-Type": "application/json; charset=utf-8"},
    }


def approved(trans_id: str = "2157047189", account: str = "XXXX1111") -> dict:
    """The API reference's createTransactionResponse sample (approved)."""
    return {
        "transactionResponse": {
            "responseCode": "1",
            "authCode": "HW617E",
            "avsResultCode": "Y",
            "cvvResultCode": "M",
            "cavvResultCode": "",
            "transId": trans_id,
            "refTransID": "",
            "transHash": "",
            "testRequest": "0",
            "accountNumber": account,
            "accountType": "Visa",
            "messages": [{"code": "1", "description": "This transaction has been approved."}],
            "transHashSha2": "",
        },
        "refId": "123456",
        "messages": OK,
    }


def refused(code: str, reason: str, text: str, trans_id: str = "0") -> dict:
    """Declined (2) or error (3): E00027 around a transactionResponse with errors[]."""
    return {
        "transactionResponse": {
            "responseCode": code,
            "authCode": "",
            "avsResultCode": "P",
            "cvvResultCode": "",
            "cavvResultCode": "",
            "transId": trans_id,
            "refTransID": "",
            "transHash": "",
            "testRequest": "0",
            "accountNumber": "XXXX1111",
            "accountType": "Visa",
            "errors": [{"errorCode": reason, "errorText": text}],
        },
        "messages": UNSUCCESSFUL,
    }


def request_level(code: str, text: str) -> dict:
    return {"messages": {"resultCode": "Error", "message": [{"code": code, "text": text}]}}


def details(trans_id: str, invoice: str, status: str, amount: str = "10.00", **extra) -> dict:
    """getTransactionDetailsResponse, as in the reference sample (numbers for amounts)."""
    return {
        "transaction": {
            "transId": trans_id,
            "submitTimeUTC": "2026-12-01T09:00:00.39Z",
            "transactionType": "authCaptureTransaction",
            "transactionStatus": status,
            "responseCode": 1,
            "responseReasonCode": 1,
            "responseReasonDescription": "Approval",
            "authCode": "JPG9DJ",
            "order": {"invoiceNumber": invoice, "description": "invoice 1001"},
            "authAmount": float(amount),
            "settleAmount": float(amount),
            "payment": {"creditCard": {"cardNumber": "XXXX1111", "expirationDate": "XXXX"}},
            **extra,
        },
        "messages": OK,
    }


def unsettled(*transactions: dict) -> dict:
    return {"transactions": list(transactions), "totalNumInResultSet": len(transactions),
            "messages": OK}  # fmt: skip


def listed(trans_id: str, invoice: str, amount: str = "10.00", account: str = "XXXX1111") -> dict:
    return {
        "transId": trans_id,
        "submitTimeUTC": "2026-12-01T09:00:00Z",
        "transactionStatus": "capturedPendingSettlement",
        "invoiceNumber": invoice,
        "accountType": "Visa",
        "accountNumber": account,
        "settleAmount": float(amount),
        "marketType": "eCommerce",
        "product": "Card Not Present",
    }


def request_for(body: dict):
    return validate(parse_envelope(json.dumps(body).encode()), mode="test", today=NOW.date())


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    """The adapter's store: in memory, and storage's own table on a real SQLite file."""
    if request.param == "memory":
        yield MemoryAuthorizeNetStore()
        return
    from storage import Store

    database = Store(f"sqlite:///{tmp_path / 'anet.sqlite3'}")
    database.migrate()
    yield database
    database.close()


def kept_rows(store) -> list[dict]:
    if isinstance(store, MemoryAuthorizeNetStore):
        return list(store.rows.values())
    return store.db.query("select * from authorize_net_attempts")


@pytest.fixture
def clock():
    class Clock:
        now = NOW

    return Clock


@pytest.fixture
def anet(store, clock):
    settings = AuthorizeNetSettings(
        login_id=LOGIN, transaction_key=KEY, url=URL, hmac_key=b"test-secret"
    )
    return AuthorizeNetProcessor(settings, store, now=lambda: clock.now)


def sent(requests_mock, index: int = -1) -> dict:
    return json.loads(requests_mock.request_history[index].body)


def invoice_of(requests_mock, index: int = 0) -> str:
    return sent(requests_mock, index)["createTransactionRequest"]["transactionRequest"]["order"][
        "invoiceNumber"
    ]


# -- request bodies ---------------------------------------------------------------------------


def test_a_card_charge_sends_exactly_the_reference_body_in_xsd_order(anet, requests_mock):
    requests_mock.post(URL, **reply(approved()))

    anet.charge(request_for(card_charge("tx-1")), "tx-1")

    raw = requests_mock.last_request.body
    body = json.loads(raw)
    invoice = invoice_of(requests_mock)
    expected = {
        "createTransactionRequest": {
            "merchantAuthentication": AUTH,
            "refId": body["createTransactionRequest"]["refId"],
            "transactionRequest": {
                "transactionType": "authCaptureTransaction",
                "amount": "10.00",
                "payment": {
                    "creditCard": {
                        "cardNumber": VISA,
                        "expirationDate": "2039-08",
                        "cardCode": TEST_CVV,
                    }
                },
                "order": {"invoiceNumber": invoice, "description": "invoice 1001"},
                "billTo": {"zip": "94111"},
                "retail": {"marketType": "1"},
                "transactionSettings": {
                    "setting": [{"settingName": "duplicateWindow", "settingValue": "1800"}]
                },
            },
        }
    }
    assert raw == json.dumps(expected).encode()  # byte for byte: key order included
    assert invoice.startswith("1001-") and len(invoice) <= 20
    assert len(body["createTransactionRequest"]["refId"]) <= 20
    assert requests_mock.last_request.headers["Content-Type"] == "application/json"


def test_an_ach_debit_is_a_tel_echeck_named_from_avsname_with_the_mapped_account_type(
    anet, requests_mock
):
    requests_mock.post(URL, **reply(approved(account="XXXX6789")))
    parameters = {
        "invoice": "1001",
        "AVSName": "Grace Hopper",
        "bankAccountType": "consumer-savings",
    }

    result = anet.charge(request_for(ach_charge("tx-2", parameters=parameters)), "tx-2")

    assert result.id == "2157047189"
    transaction = sent(requests_mock)["createTransactionRequest"]["transactionRequest"]
    assert list(transaction) == [
        "transactionType", "amount", "payment", "order", "transactionSettings",
    ]  # fmt: skip
    assert json.dumps(transaction["payment"]) == json.dumps(
        {
            "bankAccount": {
                "accountType": "savings",
                "routingNumber": "121000358",
                "accountNumber": "123456789",
                "nameOnAccount": "Grace Hopper",
                "echeckType": "TEL",
            }
        }
    )


def test_a_commercial_checking_account_is_refused_clearly_before_anything_is_sent(
    anet, requests_mock
):
    parameters = {"AVSName": "Acme", "bankAccountType": "commercial-checking"}

    result = anet.charge(request_for(ach_charge("tx-3", parameters=parameters)), "tx-3")

    assert result.error_code == "payment_method_not_supported"
    assert "TEL" in result.error_message and "personal" in result.error_message
    assert requests_mock.call_count == 0


def test_another_currency_than_the_accounts_is_refused_before_sending(anet, requests_mock):
    result = anet.charge(request_for(card_charge("tx-4", currency_code="EUR")), "tx-4")

    assert result.error_code == "invalid_currency" and requests_mock.call_count == 0


def test_a_token_charge_sends_the_profile_in_its_place_and_no_payment(anet, requests_mock):
    requests_mock.post(URL, **reply(approved()))

    result = anet.charge_token(
        "cim:1519876543:1518765432",
        Decimal("25.00"),
        "USD",
        "tx-5",
        description="invoice 1002",
        parameters={"invoice_number": "1002"},
    )

    assert result.id == "2157047189"
    transaction = sent(requests_mock)["createTransactionRequest"]["transactionRequest"]
    assert json.dumps(transaction) == json.dumps(
        {
            "transactionType": "authCaptureTransaction",
            "amount": "25.00",
            "profile": {
                "customerProfileId": "1519876543",
                "paymentProfile": {"paymentProfileId": "1518765432"},
            },
            "order": {"invoiceNumber": transaction["order"]["invoiceNumber"],
                      "description": "invoice 1002"},
            "transactionSettings": {
                "setting": [{"settingName": "duplicateWindow", "settingValue": "1800"}]
            },
        }
    )  # fmt: skip


def test_a_refund_sends_the_last_four_and_a_masked_expiry_with_the_original_id(anet, requests_mock):
    requests_mock.post(URL, **reply(approved(trans_id="2157047200")))
    charge = ChargeRef("2157047189", Decimal("10.00"), "USD", "card", last4="1111", expiry="0839")

    result = anet.refund(charge, Decimal("4.00"), "refund-1")

    assert result.id == "2157047200"
    transaction = sent(requests_mock)["createTransactionRequest"]["transactionRequest"]
    assert list(transaction) == [
        "transactionType", "amount", "payment", "refTransId", "order", "transactionSettings",
    ]  # fmt: skip
    assert transaction["transactionType"] == "refundTransaction"
    assert transaction["payment"] == {
        "creditCard": {"cardNumber": "1111", "expirationDate": "XXXX"}
    }
    assert transaction["refTransId"] == "2157047189"


def test_a_void_names_the_original_and_an_already_voided_one_is_done(anet, requests_mock):
    charge = ChargeRef("2157047189", Decimal("10.00"), "USD", "card", last4="1111")
    requests_mock.post(
        URL,
        **reply(refused("3", "310", "This transaction has already been voided.", "2157047189")),
    )

    result = anet.void(charge, "void-1")

    assert result.id == "2157047189" and result.error_code is None
    assert sent(requests_mock)["createTransactionRequest"]["transactionRequest"] == {
        "transactionType": "voidTransaction",
        "refTransId": "2157047189",
    }


# -- answers ----------------------------------------------------------------------------------


def test_an_approval_gives_the_transaction_id_and_the_gateways_results(anet, requests_mock):
    requests_mock.post(URL, **reply(approved()))

    result = anet.charge(request_for(card_charge("tx-6")), "tx-6")

    assert (result.id, result.error_code) == ("2157047189", None)
    assert result.parameters["gateway_transaction_id"] == "2157047189"
    assert result.parameters["avs_result"] == "Y"


@pytest.mark.parametrize("bom", [True, False])
def test_a_body_with_or_without_the_utf8_bom_is_read(anet, requests_mock, bom):
    requests_mock.post(URL, **reply(approved(), bom=bom))

    assert anet.charge(request_for(card_charge("tx-7")), "tx-7").id == "2157047189"


@pytest.mark.parametrize(
    ("code", "reason", "text", "error_code"),
    [
        ("2", "2", "This transaction has been declined.", "card_declined"),
        ("2", "4", "This transaction has been declined.", "card_declined"),
        ("2", "250", "This transaction has been declined.", "card_declined"),
        ("2", "27", "The transaction has been declined because of an AVS mismatch.",
         "incorrect_postal_code"),
        ("2", "44", "This transaction has been declined.", "incorrect_security_code"),
        ("2", "65", "This transaction has been declined.", "incorrect_security_code"),
        ("3", "6", "The credit card number is invalid.", "invalid_card_number"),
        ("3", "7", "Credit card expiration date is invalid.", "invalid_expiry"),
        ("3", "8", "The credit card has expired.", "expired_card"),
        ("3", "78", "Card Code (CVV2/CVC2/CID) is invalid.", "invalid_security_code"),
        ("3", "5", "A valid amount is required.", "invalid_amount"),
        ("3", "17", "The merchant does not accept this type of credit card.",
         "card_not_supported"),
        ("3", "9", "The ABA code is invalid", "invalid_routing_number"),
        ("3", "10", "The account number is invalid", "invalid_account_number"),
        ("3", "18", "ACH transactions are not accepted by this merchant.",
         "payment_method_not_supported"),
        ("3", "244", "This eCheck.Net type is not allowed for this Bank Account Type.",
         "invalid_bank_account"),
        ("3", "19", "An error occurred during processing. Please try again in 5 minutes.",
         "processing_error"),
        ("3", "13", "The merchant login ID or password is invalid or the account is inactive.",
         "configuration_error"),
        ("2", "9999", "A reason code this adapter has never seen.", "card_declined"),
        ("3", "9999", "A reason code this adapter has never seen.", "processing_error"),
    ],
)  # fmt: skip
def test_each_decline_family_maps_to_its_error_code_with_the_gateways_text(
    anet, requests_mock, code, reason, text, error_code
):
    requests_mock.post(URL, **reply(refused(code, reason, text)))

    result = anet.charge(request_for(card_charge("tx-8")), "tx-8")

    assert (result.id, result.error_code) == (None, error_code)
    assert result.error_message == mask_long_numbers(text)  # kept, with anything card-like masked
    assert result.parameters["gateway_reason_code"] == reason


def test_held_for_review_is_neither_a_success_nor_a_decline_and_lookup_follows_the_review(
    anet, requests_mock
):
    held = approved(trans_id="2157047300")
    held["transactionResponse"]["responseCode"] = "4"
    held["transactionResponse"]["messages"] = [
        {"code": "253", "description": "Your order has been received. Thank you for your business!"}
    ]
    requests_mock.post(URL, **reply(held))

    result = anet.charge(request_for(card_charge("tx-9")), "tx-9")

    assert result.id is None and result.error_code == "pending_review"
    assert result.parameters["gateway_transaction_id"] == "2157047300"
    invoice = invoice_of(requests_mock)
    requests_mock.post(URL, **reply(details("2157047300", invoice, "FDSPendingReview")))
    assert anet.lookup("tx-9").status == LookupStatus.UNKNOWN
    requests_mock.post(URL, **reply(details("2157047300", invoice, "capturedPendingSettlement")))
    assert (anet.lookup("tx-9").status, anet.lookup("tx-9").id) == (
        LookupStatus.CHARGED,
        "2157047300",
    )


def test_a_held_charge_the_merchant_declines_is_refused_on_lookup(anet, requests_mock):
    held = approved(trans_id="2157047301")
    held["transactionResponse"]["responseCode"] = "4"
    requests_mock.post(URL, **reply(held))
    anet.charge(request_for(card_charge("tx-10")), "tx-10")
    requests_mock.post(URL, **reply(details("2157047301", invoice_of(requests_mock), "voided")))

    assert anet.lookup("tx-10").status == LookupStatus.REFUSED


@pytest.mark.parametrize(
    ("code", "text", "error_code"),
    [
        (
            "E00003",
            "The element 'transactionRequest' in namespace 'AnetApi/xml/v1/schema/"
            "AnetApiSchema.xsd' has invalid child element 'order' in namespace 'AnetApi/xml/v1/"
            "schema/AnetApiSchema.xsd'. List of possible elements expected: 'customer, billTo'",
            "invalid_request",
        ),
        (
            "E00007",
            "User authentication failed due to invalid authentication values.",
            "configuration_error",
        ),
        ("E00044", "Customer Information Manager is not enabled.", "configuration_error"),
        ("E00099", "A message code this adapter has never seen.", "processing_error"),
    ],
)
def test_a_request_refused_before_processing_is_final_with_the_gateways_text(
    anet, requests_mock, code, text, error_code
):
    requests_mock.post(URL, **reply(request_level(code, text)))

    result = anet.charge(request_for(card_charge("tx-11")), "tx-11")

    assert (result.id, result.error_code) == (None, error_code)
    assert result.error_message == text[:200]
    assert result.parameters["gateway_message_code"] == code


def test_test_mode_approvals_with_transid_0_are_refused_as_a_configuration_problem(
    anet, requests_mock
):
    requests_mock.post(URL, **reply(approved(trans_id="0")))

    result = anet.charge(request_for(card_charge("tx-12")), "tx-12")

    assert result.error_code == "configuration_error" and "Live Mode" in result.error_message


@pytest.mark.parametrize(
    "mock",
    [
        {"exc": requests.exceptions.ConnectTimeout},
        {"exc": requests.exceptions.ReadTimeout},
        {"exc": requests.exceptions.ConnectionError},
        {"status_code": 500, "text": "Internal Server Error"},
        {"status_code": 503, "text": "<html><body>Service Unavailable</body></html>"},
        {"status_code": 200, "text": "<html>maintenance</html>"},
        {"status_code": 200, "content": BOM + b"not json"},
        {"status_code": 200, "content": BOM + b"[1, 2]"},
        reply(request_level("E00001", "An error occurred during processing.")),
        reply({"transactionResponse": {"responseCode": "9"}, "messages": OK}),
    ],
)  # fmt: skip
def test_unknown_outcomes_raise_processor_unavailable_without_card_data(anet, requests_mock, mock):
    requests_mock.post(URL, **mock)

    with pytest.raises(ProcessorUnavailable) as failure:
        anet.charge(request_for(card_charge("tx-13")), "tx-13")

    assert VISA not in str(failure.value) and TEST_CVV not in str(failure.value)


# -- the safe retry -------------------------------------------------------------------------


def test_after_a_timeout_the_charge_is_found_in_the_unsettled_list_and_not_sent_again(
    anet, requests_mock
):
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ProcessorUnavailable):
        anet.charge(request_for(card_charge("tx-14")), "tx-14")
    invoice = invoice_of(requests_mock)
    requests_mock.post(
        URL,
        [
            reply(unsettled(listed("111", "other-invoice"), listed("2157047400", invoice))),
            reply(details("2157047400", invoice, "capturedPendingSettlement")),
        ],
    )

    result = anet.charge(request_for(card_charge("tx-14")), "tx-14")

    assert result.id == "2157047400"
    names = [next(iter(json.loads(r.body))) for r in requests_mock.request_history]
    assert names == [
        "createTransactionRequest",
        "getUnsettledTransactionListRequest",
        "getTransactionDetailsRequest",
    ]
    listing = sent(requests_mock, 1)["getUnsettledTransactionListRequest"]
    assert list(listing) == ["merchantAuthentication", "status", "sorting", "paging"]
    assert sent(requests_mock, 2)["getTransactionDetailsRequest"]["transId"] == "2157047400"
    assert anet.lookup("tx-14").id == "2157047400"


def test_a_listed_charge_of_another_amount_or_card_is_not_taken_for_ours(anet, requests_mock):
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ProcessorUnavailable):
        anet.charge(request_for(card_charge("tx-15")), "tx-15")
    invoice = invoice_of(requests_mock)
    requests_mock.post(
        URL,
        [
            reply(
                unsettled(listed("1", invoice, "11.00"), listed("2", invoice, account="XXXX4444"))
            ),
            reply({"messages": OK}),  # settled batches: none
            reply(approved(trans_id="2157047500")),
        ],
    )  # fmt: skip

    result = anet.charge(request_for(card_charge("tx-15")), "tx-15")

    assert result.id == "2157047500"  # not "1" nor "2": it was resent
    assert requests_mock.request_history[-1].body == requests_mock.request_history[0].body


def test_a_resend_is_byte_identical_and_a_duplicate_11_resolves_to_the_original(
    anet, requests_mock
):
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ProcessorUnavailable):
        anet.charge(request_for(card_charge("tx-16")), "tx-16")
    first = requests_mock.request_history[0].body
    invoice = invoice_of(requests_mock)
    requests_mock.post(
        URL,
        [
            reply(unsettled()),
            reply({"messages": OK}),
            reply(refused("3", "11", "A duplicate transaction has been submitted.", "2157047600")),
            reply(details("2157047600", invoice, "capturedPendingSettlement")),
        ],
    )

    result = anet.charge(request_for(card_charge("tx-16")), "tx-16")

    assert result.id == "2157047600"
    creates = [r.body for r in requests_mock.request_history if b"createTransaction" in r.body]
    assert creates == [first, first]


def test_a_duplicate_11_of_somebody_elses_transaction_is_not_our_charge(anet, requests_mock):
    requests_mock.post(
        URL,
        [
            reply(refused("3", "11", "A duplicate transaction has been submitted.", "99")),
            reply(details("99", "someone-else", "capturedPendingSettlement")),
        ],
    )

    result = anet.charge(request_for(card_charge("tx-17")), "tx-17")

    assert (result.id, result.error_code) == (None, "duplicate_transaction")


def test_a_duplicate_11_without_the_original_id_stays_unknown_until_it_is_listed(
    anet, requests_mock
):
    requests_mock.post(
        URL,
        [
            reply(refused("3", "11", "A duplicate transaction has been submitted.", "0")),
            reply(unsettled()),
            reply({"messages": OK}),
        ],
    )

    with pytest.raises(ProcessorUnavailable):
        anet.charge(request_for(card_charge("tx-18")), "tx-18")


def test_a_final_answer_is_replayed_without_asking_the_gateway_again(anet, requests_mock):
    requests_mock.post(URL, **reply(refused("2", "2", "This transaction has been declined.")))
    first = anet.charge(request_for(card_charge("tx-19")), "tx-19")

    again = anet.charge(request_for(card_charge("tx-19")), "tx-19")

    assert again == first and requests_mock.call_count == 1
    assert anet.lookup("tx-19").status == LookupStatus.REFUSED


def test_the_same_key_with_another_card_is_refused_and_not_sent(anet, requests_mock):
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ProcessorUnavailable):
        anet.charge(request_for(card_charge("tx-20")), "tx-20")
    requests_mock.post(URL, [reply(unsettled()), reply({"messages": OK})])

    result = anet.charge(request_for(card_charge("tx-20", cardnumber="5555555555554444")), "tx-20")

    assert result.error_code == "idempotency_mismatch"
    assert not any(b"createTransaction" in r.body for r in requests_mock.request_history[1:])


def test_lookup_of_a_key_never_sent_is_not_found_and_a_recent_unlisted_one_is_unknown(
    anet, requests_mock, clock
):
    assert anet.lookup("never").status == LookupStatus.NOT_FOUND
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ProcessorUnavailable):
        anet.charge(request_for(card_charge("tx-21")), "tx-21")
    requests_mock.post(URL, [reply(unsettled()), reply({"messages": OK})] * 2)

    assert anet.lookup("tx-21").status == LookupStatus.UNKNOWN
    clock.now = NOW + dt.timedelta(minutes=10)
    assert anet.lookup("tx-21").status == LookupStatus.NOT_FOUND


def test_the_store_keeps_no_card_number_nor_security_code(anet, store, requests_mock):
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ProcessorUnavailable):
        anet.charge(request_for(card_charge("tx-22")), "tx-22")

    kept = json.dumps(kept_rows(store))
    assert VISA not in kept and f'"{TEST_CVV}"' not in kept
    assert "1111" in kept  # the last four are kept, to match the gateway's list


# -- tokens -----------------------------------------------------------------------------------


def test_tokenize_creates_a_cim_profile_in_xsd_order_and_the_ids_form_the_token(
    anet, requests_mock
):
    requests_mock.post(
        URL,
        **reply(
            {
                "customerProfileId": "1519876543",
                "customerPaymentProfileIdList": ["1518765432"],
                "customerShippingAddressIdList": [],
                "validationDirectResponseList": [],
                "messages": OK,
            }
        ),
    )

    result = anet.tokenize(request_for(tokenize(card_charge("tx-23"))), "tx-23")

    assert result.id == "cim:1519876543:1518765432"
    body = sent(requests_mock)["createCustomerProfileRequest"]
    assert list(body) == ["merchantAuthentication", "profile", "validationMode"]
    assert list(body["profile"]) == ["merchantCustomerId", "description", "paymentProfiles"]
    assert len(body["profile"]["merchantCustomerId"]) <= 20
    assert json.dumps(body["profile"]["paymentProfiles"]) == json.dumps(
        [
            {
                "customerType": "individual",
                "billTo": {"zip": "94111"},
                "payment": {
                    "creditCard": {
                        "cardNumber": VISA,
                        "expirationDate": "2039-08",
                        "cardCode": TEST_CVV,
                    }
                },
            }
        ]
    )
    assert body["validationMode"] == "liveMode"


def test_a_duplicate_profile_e00039_is_recovered_not_refused(anet, requests_mock):
    requests_mock.post(
        URL,
        [
            reply(request_level("E00039", "A duplicate record with ID 1220992516 already exists.")),
            reply(
                {
                    "profile": {
                        "paymentProfiles": [
                            {
                                "customerPaymentProfileId": "1220000001",
                                "payment": {
                                    "creditCard": {
                                        "cardNumber": "XXXX1111",
                                        "expirationDate": "XXXX",
                                    }
                                },
                            }
                        ],
                        "customerProfileId": "1220992516",
                        "merchantCustomerId": "PL",
                    },
                    "messages": OK,
                }
            ),
        ],
    )

    result = anet.tokenize(request_for(tokenize(card_charge("tx-24"))), "tx-24")

    assert (result.id, result.error_code) == ("cim:1220992516:1220000001", None)
    lookup = sent(requests_mock)["getCustomerProfileRequest"]
    assert lookup["customerProfileId"] == "1220992516"


def test_a_duplicate_profile_without_this_card_gets_it_added(anet, requests_mock):
    requests_mock.post(
        URL,
        [
            reply(request_level("E00039", "A duplicate record with ID 1220992516 already exists.")),
            reply({"profile": {"paymentProfiles": [], "customerProfileId": "1220992516"},
                   "messages": OK}),
            reply({"customerProfileId": "1220992516", "customerPaymentProfileId": "1220000002",
                   "messages": OK}),
        ],
    )  # fmt: skip

    result = anet.tokenize(request_for(tokenize(card_charge("tx-25"))), "tx-25")

    assert result.id == "cim:1220992516:1220000002"
    added = sent(requests_mock)["createCustomerPaymentProfileRequest"]
    assert list(added) == [
        "merchantAuthentication", "customerProfileId", "paymentProfile", "validationMode",
    ]  # fmt: skip


def test_a_card_the_validation_authorization_declines_is_not_saved(anet, requests_mock):
    requests_mock.post(
        URL,
        **reply(
            {
                "validationDirectResponseList": [
                    "2,1,2,This transaction has been declined.,,P,0,none,Test transaction,1.00"
                ],
                "messages": UNSUCCESSFUL,
            }
        ),
    )

    result = anet.tokenize(request_for(tokenize(card_charge("tx-26"))), "tx-26")

    assert (result.id, result.error_code) == (None, "card_declined")
    assert result.error_message == "This transaction has been declined."


def test_a_token_that_is_not_a_profile_is_refused_without_asking(anet, requests_mock):
    result = anet.charge_token("tok_sbx_1", Decimal("1.00"), "USD", "tx-27")

    assert result.error_code == "token_not_found" and requests_mock.call_count == 0


def test_a_schema_error_quoting_the_refused_value_keeps_it_out_of_the_message(anet, requests_mock):
    text = (
        "The 'AnetApi/xml/v1/schema/AnetApiSchema.xsd:cardCode' element is invalid - The value"
        f" '{TEST_CVV}' is invalid according to its datatype 'String'"
    )
    requests_mock.post(URL, **reply(request_level("E00003", text)))

    result = anet.charge(request_for(card_charge("tx-28")), "tx-28")

    assert result.error_code == "invalid_request" and "cardCode" in result.error_message
    assert TEST_CVV not in result.error_message


def test_no_request_body_card_number_or_key_reaches_the_log(anet, requests_mock, caplog):
    requests_mock.post(
        URL,
        [
            {"exc": requests.exceptions.ReadTimeout},
            reply(unsettled()),
            reply({"messages": OK}),
            reply(refused("3", "11", "A duplicate transaction has been submitted.", "0")),
            reply(unsettled()),
            reply({"messages": OK}),
        ],
    )
    with caplog.at_level("DEBUG"):
        for _ in range(2):
            with pytest.raises(ProcessorUnavailable):
                anet.charge(request_for(card_charge("tx-29")), "tx-29")

    logged = caplog.text
    assert VISA not in logged and KEY not in logged and "createTransactionRequest" not in logged


def test_an_echeck_refund_sends_the_masked_bank_details_read_from_the_original(anet, requests_mock):
    bank = {
        "accountType": "checking",
        "routingNumber": "XXXX0358",
        "accountNumber": "XXXX6789",
        "nameOnAccount": "Grace Hopper",
        "echeckType": "TEL",
    }
    original = details("2157047700", "1001-X", "settledSuccessfully", payment={"bankAccount": bank})
    requests_mock.post(
        URL, [reply(original), reply(approved(trans_id="2157047701", account="XXXX6789"))]
    )
    charge = ChargeRef("2157047700", Decimal("10.00"), "USD", "ach", last4="6789")

    result = anet.refund(charge, Decimal("10.00"), "refund-ach-1")

    assert result.id == "2157047701"
    transaction = sent(requests_mock)["createTransactionRequest"]["transactionRequest"]
    assert json.dumps(transaction["payment"]) == json.dumps({"bankAccount": bank})


def test_a_void_whose_answer_was_lost_is_simply_sent_again(anet, requests_mock):
    charge = ChargeRef("2157047189", Decimal("10.00"), "USD", "card", last4="1111")
    requests_mock.post(
        URL,
        [
            {"exc": requests.exceptions.ReadTimeout},
            reply(refused("3", "310", "This transaction has already been voided.", "2157047189")),
        ],
    )
    with pytest.raises(ProcessorUnavailable):
        anet.void(charge, "void-2")

    assert anet.void(charge, "void-2").id == "2157047189"
    assert anet.lookup("void-2").status == LookupStatus.CHARGED


def test_a_refund_above_what_is_left_is_refused_as_an_invalid_amount(anet, requests_mock):
    requests_mock.post(
        URL,
        **reply(
            refused(
                "3",
                "55",
                "The sum of credits against the referenced transaction would exceed original"
                " debit amount.",
            )
        ),
    )
    charge = ChargeRef("2157047189", Decimal("10.00"), "USD", "card", last4="1111")

    assert anet.refund(charge, Decimal("6.00"), "refund-2").error_code == "invalid_amount"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("settledSuccessfully", LookupStatus.CHARGED),
        ("declined", LookupStatus.REFUSED),
        ("FDSAuthorizedPendingReview", LookupStatus.UNKNOWN),
        ("aStatusNobodyDocumented", LookupStatus.UNKNOWN),
    ],
)
def test_a_found_transaction_is_charged_refused_or_undecided_by_its_status(
    anet, requests_mock, clock, status, expected
):
    requests_mock.post(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ProcessorUnavailable):
        anet.charge(request_for(card_charge("tx-30")), "tx-30")
    invoice = invoice_of(requests_mock)
    requests_mock.post(
        URL,
        [
            reply(unsettled(listed("2157047800", invoice))),
            reply(details("2157047800", invoice, status)),
        ],
    )

    assert anet.lookup("tx-30").status == expected

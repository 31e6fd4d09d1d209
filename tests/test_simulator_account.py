"""What an account sees: the account switches (quota, billing, verification) and the /v1/models overrides
(shutdown dates, unlisted models), in-process through the SDK and served."""

from __future__ import annotations

import datetime as dt

import openai
import pytest
from simulator_fixtures import AUTH, Served, client, png, raw

from dalle_kit.simulator import ACCOUNTS, Simulator

BODY = {"model": "gpt-image-2", "prompt": "a cat", "quality": "low"}
QUOTA = ("You exceeded your current quota, please check your plan and billing details. For more information on this "
         "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.")
VERIFY = ("Your organization must be verified to use the model `{}`. Please go to: "
          "https://platform.openai.com/settings/organization/general and click on Verify Organization. If you just "
          "verified, it can take up to 15 minutes for access to propagate.")
EXPECTED = {
    "insufficient_quota": (429, openai.RateLimitError, {
        "message": QUOTA, "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}),
    "billing_hard_limit_reached": (400, openai.BadRequestError, {
        "code": "billing_hard_limit_reached", "message": "Billing hard limit has been reached", "param": None,
        "type": "invalid_request_error"}),
    "unverified": (403, openai.PermissionDeniedError, {
        "message": VERIFY.format("gpt-image-2"), "type": "invalid_request_error", "param": None, "code": None}),
}


@pytest.mark.parametrize("account", sorted(EXPECTED))
def test_account_switches(account):
    status, exc_class, body = EXPECTED[account]
    sim = Simulator(account=account)
    c = client(sim, max_retries=0)
    with pytest.raises(exc_class) as info:
        c.images.generate(**BODY)
    err = info.value
    assert (err.status_code, err.body, err.code, err.type) == (status, body, body["code"], body["type"])
    headers = err.response.headers
    assert "x-should-retry" not in headers and "retry-after" not in headers
    assert headers["x-ratelimit-remaining-requests"] == headers["x-ratelimit-limit-requests"]  # nothing counted
    stats = sim.stats()
    assert (stats["total"], stats["images"], stats["account"]) == (1, 0, account)
    assert stats["by_endpoint"] == {"POST /v1/images/generations": {str(status): 1}}
    assert stats["faults"] == {account: 1}
    assert c.models.list().data  # listing models still works for such an account


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks create_variation deprecated
def test_account_applies_to_edits_and_variations():
    image = [("a.png", png((1024, 1024)), "image/png")]
    c = client(Simulator(account="unverified"), max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as info:
        c.images.edit(model="gpt-image-2.5-flare", prompt="a hat", image=image)
    assert info.value.message.endswith(VERIFY.format("gpt-image-2.5-flare"))
    quota = client(Simulator(account="insufficient_quota", legacy=True), max_retries=0)
    with pytest.raises(openai.RateLimitError):
        quota.images.create_variation(image=png((256, 256)), model="dall-e-2")
    with pytest.raises(openai.RateLimitError):
        quota.images.edit(model="gpt-image-2", prompt="a hat", image=image)


def test_check_order():
    """Key, then body syntax, then account, then parameter rules."""
    sim = Simulator(account="insufficient_quota")
    assert raw(sim, "POST", "/v1/images/generations", json=BODY).status_code == 401
    malformed = raw(sim, "POST", "/v1/images/generations", content=b"{not json", headers={
        **AUTH, "content-type": "application/json"})
    assert malformed.status_code == 400
    c = client(sim, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        c.images.generate(**{**BODY, "size": "13x13", "n": 99})  # account before the parameter rules
    with pytest.raises(openai.RateLimitError):
        c.images.generate(**{**BODY, "model": "no-such-model"})
    unverified = client(Simulator(account="unverified"), max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:  # an unknown model is not a verification matter
        unverified.images.generate(**{**BODY, "model": "no-such-model"})
    assert info.value.param == "model"
    with pytest.raises(openai.NotFoundError):  # nor is a retired one
        unverified.images.generate(**{**BODY, "model": "gpt-image-1"})
    legacy = client(Simulator(account="unverified", legacy=True), max_retries=0)
    assert legacy.images.generate(model="dall-e-3", prompt="a cat").data  # DALL·E never needed verification


def test_account_can_change_and_sdk_still_retries_quota_errors():
    sim = Simulator()
    assert sim.account == "ok" and set(ACCOUNTS) == {"ok", *EXPECTED}
    c = client(sim, max_retries=1)
    assert c.images.generate(**BODY).data
    sim.account = "insufficient_quota"
    with pytest.raises(openai.RateLimitError):
        c.images.generate(**BODY)
    # The real API sends no x-should-retry, so the SDK retries the 429; not retrying it is the client's business.
    assert sim.stats()["by_endpoint"]["POST /v1/images/generations"] == {"200": 1, "429": 2}
    sim.account = None
    assert sim.account == "ok" and c.images.generate(**BODY).data
    with pytest.raises(ValueError):
        sim.account = "broke"
    with pytest.raises(ValueError):
        Simulator(account="rich")


# -- /v1/models overrides ------------------------------------------------------------------------------------------
def shutdowns(c: openai.OpenAI) -> dict[str, str | None]:
    return {m.id: m.shutdown_date for m in c.models.list().data}


def test_shutdown_dates_and_unlisted_change_the_model_list():
    plain = shutdowns(client(Simulator()))
    assert plain["gpt-image-2"] is None and plain["gpt-image-1.5"] == "2026-12-01" and "gpt-image-2.6-flare" in plain
    sim = Simulator(shutdown_dates={"gpt-image-2": "2027-01-15", "gpt-image-1.5": None,
                                    "gpt-image-2.5-flare": dt.date(2027, 3, 1)},
                    unlisted=("gpt-image-2.6-flare",))
    c = client(sim, max_retries=0)
    seen = shutdowns(c)
    assert seen == {**{k: v for k, v in plain.items() if k != "gpt-image-2.6-flare"},
                    "gpt-image-2": "2027-01-15", "gpt-image-1.5": None, "gpt-image-2.5-flare": "2027-03-01"}
    assert c.models.retrieve("gpt-image-2").shutdown_date == "2027-01-15"
    with pytest.raises(openai.NotFoundError) as info:
        c.models.retrieve("gpt-image-2.6-flare")
    assert info.value.code == "model_not_found"
    assert c.images.generate(**{**BODY, "model": "gpt-image-2.6-flare"}).data  # unlisted, still served
    assert c.images.generate(**{**BODY, "model": "gpt-image-1.5"}).data  # reported only: still served

    sim.set_shutdown_date("gpt-image-2", "2027-02-01")  # between two reads
    sim.shutdown_dates["gpt-image-2-2026-04-21"] = "2027-02-01"
    del sim.shutdown_dates["gpt-image-1.5"]
    sim.unlisted.discard("gpt-image-2.6-flare")
    sim.unlisted.add("gpt-image-2.5-sunburst")
    again = shutdowns(c)
    assert again["gpt-image-2"] == again["gpt-image-2-2026-04-21"] == "2027-02-01"
    assert again["gpt-image-1.5"] == "2026-12-01" and "gpt-image-2.6-flare" in again
    assert "gpt-image-2.5-sunburst" not in again


def test_override_options_are_checked():
    with pytest.raises(ValueError, match="no-such-model"):
        Simulator(shutdown_dates={"no-such-model": "2027-01-01"})
    with pytest.raises(ValueError, match="unlisted"):
        Simulator(unlisted=["gpt-image-9"])
    with pytest.raises(ValueError):
        Simulator(shutdown_dates={"gpt-image-2": "next spring"})
    with pytest.raises(ValueError):
        Simulator().set_shutdown_date("gpt-image-9", None)
    assert Simulator(unlisted="gpt-image-2").unlisted == {"gpt-image-2"}  # one id, not its letters


def test_served_account_and_model_overrides(tmp_path):
    server = Served(tmp_path, "--account", "insufficient_quota", "--shutdown-date", "gpt-image-2=2027-01-15",
                    "--shutdown-date", "gpt-image-1.5=none", "--unlisted", "gpt-image-2.6-flare", "--quiet")
    try:
        with openai.OpenAI(api_key="k", base_url=server.url, max_retries=0) as c:
            with pytest.raises(openai.RateLimitError) as info:
                c.images.generate(**BODY)
            assert info.value.code == "insufficient_quota" and info.value.response.headers["x-ratelimit-limit-tokens"]
            seen = shutdowns(c)
            assert (seen["gpt-image-2"], seen["gpt-image-1.5"]) == ("2027-01-15", None)
            assert "gpt-image-2.6-flare" not in seen
            stats = server.stats()
            assert (stats["account"], stats["faults"]) == ("insufficient_quota", {"insufficient_quota": 1})
            assert stats["total"] == 2
    finally:
        server.stop()

"""Product questions in the console's reviews inbox over HTTP: the moderator sees the questions
waiting (questionModerationQueue), approves one or rejects several with a reason
(moderateQuestion), each decision in the staff audit log; a published question shows on the
product. Roles without reviews:moderate are refused."""

from __future__ import annotations

import pytest

from domain.auth.service import create_api_key
from domain.catalog.service import upsert_products
from domain.reviews.models import Answer, Question
from domain.staff.models import StaffAudit
from tests import helpers
from tests.conftest import member_token
from tests.test_console import csrf_of, held, make_staff, sign_in  # noqa: F401 (held is a fixture)

ASK = """mutation($p: String!, $b: String!) { askQuestion(input: {productExternalId: $p, body: $b}) {
           question { id status } errors { code } } }"""
QUEUE = "{ questionModerationQueue(first: 10) { totalCount edges { node { body productExternalId status } } } }"


@pytest.fixture(autouse=True)
def english(client):
    client.headers["accept-language"] = "en"


async def _ask(api) -> dict[str, str]:
    await upsert_products([{"external_id": "p1", "title": "Trail Runner"}, {"external_id": "p2", "title": "Cap"}])
    await helpers.member("m1", name="Ann Lee")
    ids = {}
    for key, product, body in (("size", "p1", "Does it run true to size?"), ("wash", "p2", "Can I machine wash it?"),
                               ("spam", "p2", "Buy followers cheap, DM me")):
        asked = (await api.ok(ASK, {"p": product, "b": body}, member_token("m1")))["askQuestion"]
        assert asked["question"]["status"] == "PENDING", asked
        ids[key] = asked["question"]["id"]
    return ids


async def test_the_queue_lists_pending_questions_newest_first_for_moderators(api, held):
    await _ask(api)
    admin = (await create_api_key("t", "admin"))[1]
    queue = (await api.ok(QUEUE, token=admin))["questionModerationQueue"]
    assert queue["totalCount"] == 3
    assert [(e["node"]["body"], e["node"]["productExternalId"]) for e in queue["edges"]] == [
        ("Buy followers cheap, DM me", "p2"), ("Can I machine wash it?", "p2"), ("Does it run true to size?", "p1")]
    storefront = (await create_api_key("s", "storefront"))[1]
    refused = await api(QUEUE, token=storefront)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_moderator_approves_one_question_and_rejects_two_in_bulk(client, api, held):
    ids = await _ask(api)
    moderator = await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    page = await client.get("/console/reviews")
    assert page.text.count("data-question=") == 3
    assert "Does it run true to size?" in page.text and "<code>p1</code>" in page.text
    token = csrf_of(page)
    one = await client.post("/console/questions/moderate", data={"csrf": token, "item": f"{ids['size']}:PUBLISH"})
    assert one.headers["location"] == "/console/reviews?done=questions&n=1"
    no_reason = await client.post("/console/questions/moderate", data={"csrf": token, "bulk": "REJECT",
                                                                        "ids": [ids["wash"], ids["spam"]]})
    assert no_reason.headers["location"] == "/console/reviews?n=0&error=REASON_REQUIRED"
    bulk = await client.post("/console/questions/moderate", data={"csrf": token, "bulk": "REJECT", "bulk-reason": "SPAM",
                                                                   "ids": [ids["wash"], ids["spam"]]})
    assert bulk.headers["location"] == "/console/reviews?done=questions&n=2"
    assert sorted((q.body, q.status, q.reject_reason) for q in await Question.all()) == [
        ("Buy followers cheap, DM me", "rejected", "SPAM"), ("Can I machine wash it?", "rejected", "SPAM"),
        ("Does it run true to size?", "published", None)]
    after = await client.get("/console/reviews?done=questions&n=2")
    assert "Saved: 2 question(s) moderated." in after.text and "data-question=" not in after.text
    log = [a.detail for a in await StaffAudit.filter(user_id=moderator.id, action="question.moderate").order_by("id")]
    assert log == [f"{ids['size']} PUBLISH", f"{ids['wash']} REJECT SPAM", f"{ids['spam']} REJECT SPAM"]
    public = await api.ok('{ product(externalId: "p1") { questions(first: 5) { edges { node { body } } } } }')
    assert public["product"]["questions"]["edges"] == [{"node": {"body": "Does it run true to size?"}}]


async def test_filtered_inbox_leaves_questions_out_and_other_roles_are_refused(client, api, held):
    ids = await _ask(api)
    await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    assert "data-question=" not in (await client.get("/console/reviews", params={"rating": "5"})).text
    await make_staff("support")
    client.cookies.clear()
    await sign_in(client, "support@brand.example")
    page = await client.get("/console/members")
    refused = await client.post("/console/questions/moderate", data={"csrf": csrf_of(page),
                                                                      "item": f"{ids['size']}:PUBLISH"})
    assert refused.status_code == 403
    assert await Question.filter(status="pending").count() == 3


# --- answers waiting for a moderator (answerModerationQueue, moderateAnswer) -------------------

ANSWER = """mutation($q: ID!, $b: String!) { answerQuestion(input: {questionId: $q, body: $b}) {
              answer { id status } errors { code } } }"""
ANSWER_QUEUE = """{ answerModerationQueue(first: 10) { totalCount edges { node { body authorKind status
                    question { body productExternalId } } } } }"""
PUBLISH_QUESTION = """mutation($id: ID!) { moderateQuestion(input: {id: $id, action: PUBLISH}) { errors { code } } }"""


async def _answers(api) -> tuple[dict[str, str], dict[str, str]]:
    ids = await _ask(api)
    admin = (await create_api_key("t", "admin"))[1]
    for key in ("size", "wash"):
        assert (await api.ok(PUBLISH_QUESTION, {"id": ids[key]}, admin))["moderateQuestion"]["errors"] == []
    answers = {}
    for key, question, body in (("fits", "size", "Yes, order your usual size."),
                                ("wash", "wash", "Cold wash only, please.")):
        given = (await api.ok(ANSWER, {"q": ids[question], "b": body}, admin))["answerQuestion"]
        assert given["answer"]["status"] == "PENDING", given
        answers[key] = given["answer"]["id"]
    return ids, answers


async def test_the_answer_queue_lists_pending_answers_with_their_question(api, held):
    await _answers(api)
    admin = (await create_api_key("t2", "admin"))[1]
    queue = (await api.ok(ANSWER_QUEUE, token=admin))["answerModerationQueue"]
    assert queue["totalCount"] == 2
    assert [(e["node"]["body"], e["node"]["authorKind"], e["node"]["status"], e["node"]["question"])
            for e in queue["edges"]] == [
        ("Cold wash only, please.", "merchant", "PENDING", {"body": "Can I machine wash it?", "productExternalId": "p2"}),
        ("Yes, order your usual size.", "merchant", "PENDING",
         {"body": "Does it run true to size?", "productExternalId": "p1"})]
    for role in ("storefront", "partner"):
        key = (await create_api_key(role, role))[1]
        assert (await api(ANSWER_QUEUE, token=key))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await api(ANSWER_QUEUE))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_moderator_approves_and_rejects_answers_in_the_inbox(client, api, held):
    _, answers = await _answers(api)
    moderator = await make_staff("moderator")
    await sign_in(client, "moderator@brand.example")
    page = await client.get("/console/reviews")
    assert page.text.count("data-answer=") == 2 and "Answer to: “Does it run true to size?”" in page.text
    token = csrf_of(page)
    approved = await client.post("/console/answers/moderate", data={"csrf": token, "item": f"{answers['fits']}:PUBLISH"})
    assert approved.headers["location"] == "/console/reviews?done=answers&n=1"
    rejected = await client.post("/console/answers/moderate", data={"csrf": token, "bulk": "REJECT",
                                                                     "bulk-reason": "OFF_TOPIC", "ids": [answers["wash"]]})
    assert rejected.headers["location"] == "/console/reviews?done=answers&n=1"
    after = await client.get("/console/reviews?done=answers&n=1")
    assert "Saved: 1 answer(s) moderated." in after.text and "data-answer=" not in after.text
    log = [a.detail for a in await StaffAudit.filter(user_id=moderator.id, action="answer.moderate").order_by("id")]
    assert log == [f"{answers['fits']} PUBLISH", f"{answers['wash']} REJECT OFF_TOPIC"]
    public = await api.ok('{ product(externalId: "p1") { questions(first: 5) { edges { node { body '
                          'answers { body question { body } } } } } } }')
    assert public["product"]["questions"]["edges"] == [{"node": {
        "body": "Does it run true to size?",
        "answers": [{"body": "Yes, order your usual size.", "question": {"body": "Does it run true to size?"}}]}}]
    without_token = await client.post("/console/answers/moderate", data={"item": f"{answers['wash']}:PUBLISH"})
    assert without_token.status_code == 403
    assert await Answer.filter(status="pending").count() == 0 and await Answer.filter(status="rejected").count() == 1

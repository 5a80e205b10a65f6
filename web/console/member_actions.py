"""Member 360's data-rights actions: download everything held about a member (exportMemberData)
and anonymize them (anonymizeMember) after typing their externalId, so a slip of the mouse never
erases a customer. Both are admin-only in the API (AdminOrSelf), so only owners and admins see
them; the schema refuses anyone else with 403 even if they post the form by hand. Each use is in
the staff audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import orjson
from starlette.responses import Response
from starlette.routing import Route

from web.console import i18n
from web.console.page import BASE, HEADERS, Page, form_text, redirect

EXPORT = """
query Export($externalId: String!) { exportMemberData(memberExternalId: $externalId) }"""

ANONYMIZE = """
mutation Anonymize($externalId: String!) {
  anonymizeMember(input: {memberExternalId: $externalId}) { member { externalId anonymized } errors { field message code } }
}"""

i18n.extend({
    "en": {
        "m360_rights": "Data rights", "m360_export": "Download all data (JSON)",
        "m360_anonymize": "Anonymize this member",
        "m360_anonymize_help": "Erases name, e-mail, birthday, review texts and photos everywhere; orders, points and "
                               "totals stay. Type the member's ID to confirm. This cannot be undone.",
        "m360_confirm": "Type {id} to confirm", "m360_anonymize_go": "Anonymize",
        "code_CONFIRM": "the ID typed does not match; nothing was changed",
        "done_anonymized": "The member was anonymized.",
        "m360_consent_history": "Consent history", "m360_withdrawn": "Withdrawn",
        "m360_expected": "Expected orders (90 days)", "m360_clv": "Expected value (12 months)",
        "m360_rfm_figures": "Recency / frequency / spend",
    },
    "ko": {
        "m360_rights": "개인정보 처리", "m360_export": "전체 데이터 내려받기 (JSON)",
        "m360_anonymize": "이 회원 익명화",
        "m360_anonymize_help": "이름, 이메일, 생일, 리뷰 본문과 사진을 모든 곳에서 지웁니다. 주문, 포인트와 합계는 남습니다. "
                               "확인하려면 회원 ID를 입력하세요. 되돌릴 수 없습니다.",
        "m360_confirm": "확인하려면 {id} 입력", "m360_anonymize_go": "익명화",
        "code_CONFIRM": "입력한 ID가 일치하지 않아 아무것도 바꾸지 않았습니다",
        "done_anonymized": "회원을 익명화했습니다.",
        "m360_consent_history": "동의 변경 이력", "m360_withdrawn": "철회",
        "m360_expected": "예상 주문 수 (90일)", "m360_clv": "예상 가치 (12개월)",
        "m360_rfm_figures": "최근성 / 빈도 / 금액",
    },
})


def _member_url(external_id: str) -> str:
    return f"{BASE}/members/{quote(external_id, safe='')}"


async def _export(page: Page) -> Response:
    external_id = page.request.path_params["external_id"][:255]
    data = (await page.query(EXPORT, {"externalId": external_id}))["exportMemberData"]
    if data is None:
        return page.render("message.html", 404, title=page.t("not_found"), text="")
    await page.audit("member.export", external_id)
    filename = "member-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in external_id)[:80] + ".json"
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(orjson.dumps(data, option=orjson.OPT_INDENT_2), 200, headers=headers,
                    media_type="application/json")


async def _anonymize(page: Page) -> Response:
    form: Any = page.form  # type: ignore[attr-defined]
    external_id = page.request.path_params["external_id"][:255]
    if form_text(form, "confirm", 300).strip() != external_id:
        return redirect(f"{_member_url(external_id)}?{urlencode({'error': 'CONFIRM'})}")
    payload = (await page.query(ANONYMIZE, {"externalId": external_id}))["anonymizeMember"]
    if payload["errors"]:
        return redirect(f"{_member_url(external_id)}?{urlencode({'error': payload['errors'][0]['code']})}")
    new_id = payload["member"]["externalId"]
    await page.audit("member.anonymize", f"{external_id} -> {new_id}")
    return redirect(f"{_member_url(new_id)}?done=anonymized")


def routes(page: Any) -> list[Route]:
    return [
        Route("/members/{external_id}/export", page(_export)),
        Route("/members/{external_id}/anonymize", page(_anonymize), methods=["POST"]),
    ]

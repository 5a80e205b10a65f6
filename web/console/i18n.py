"""Korean and English for the console: the locale comes from the `console_lang` cookie (the
switch), else Accept-Language, else PATRON_DEFAULT_LOCALE. Dates, durations and numbers are
formatted by Babel in that locale and the brand's time zone (PATRON_DEFAULT_TIMEZONE)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision

from domain.settings import get_settings

LOCALES = ("ko", "en")
LANG_COOKIE = "console_lang"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "console": "Console", "sign_in": "Sign in", "sign_out": "Sign out", "email": "E-mail",
        "password": "Password", "language": "Language", "skip": "Skip to content",
        "nav": "Console pages", "inbox": "Reviews inbox", "replies": "Replies", "audit": "Audit log",
        "signed_in_as": "Signed in as {email} ({role})",
        "filters": "Filters", "status": "Status", "status_waiting": "Waiting for a moderator",
        "status_PENDING": "Pending", "status_PUBLISHED": "Published", "status_REJECTED": "Rejected",
        "status_DELETED": "Deleted", "rating": "Rating", "any": "Any", "with_media": "With photos or videos",
        "media_yes": "With media", "media_no": "Without media", "product": "Product", "apply": "Apply",
        "stars": "{n} stars", "no_items": "Nothing is waiting here.", "select": "Select",
        "select_all": "Select all on this page", "bulk": "Selected reviews", "approve": "Approve",
        "reject": "Reject", "reason": "Reason", "note": "Note (internal)", "approve_photo": "Approve photo",
        "reject_photo": "Reject photo", "held_for": "Held for", "reports": "Reports",
        "open_reports": "{n} open reports", "no_text": "(rating only)", "photo": "Photo", "video": "Video",
        "reason_PROFANITY": "Profanity", "reason_PERSONAL_DATA": "Personal data", "reason_LINK": "Link",
        "reason_SPAM": "Spam", "reason_OFF_TOPIC": "Off topic", "reason_OTHER": "Other",
        "report_OFFENSIVE": "Offensive", "report_FAKE": "Fake", "report_SPAM": "Spam",
        "report_PERSONAL_DATA": "Personal data", "report_OFF_TOPIC": "Off topic", "report_OTHER": "Other",
        "written": "Written", "awaiting": "Negative reviews awaiting a reply", "due": "Reply due",
        "overdue": "Overdue by {t}", "left": "{t} left", "reply": "Reply", "your_reply": "Your reply",
        "send_reply": "Send reply", "edit_reply": "Edit reply", "save_reply": "Save reply",
        "current_reply": "Current reply", "review": "Review", "more": "Next page",
        "done_moderated": "Saved: {n} review(s) moderated.", "done_media": "Saved: the photo was moderated.",
        "done_replied": "Reply saved.", "error": "Not saved: {message}",
        "wrong_credentials": "Wrong e-mail or password.",
        "locked": "This account is locked after too many wrong passwords. Try again later.",
        "throttled": "Too many attempts from this address. Try again in 15 minutes.",
        "forbidden": "You may not open this page", "forbidden_text": "Your role does not allow it.",
        "csrf": "This form expired. Reload the page and try again.", "not_found": "Not found",
        "member": "Member", "points": "Points", "balance": "Balance", "pending": "Pending",
        "tier": "Tier", "none": "none", "when": "When", "who": "Who", "what": "What", "detail": "Detail",
        "from": "From", "choose_reason": "Choose a reason", "nothing_selected": "Select at least one review.",
        "reply_to": "Reply to review {id}",
        "change_password": "Choose your password", "current_password": "Current (one-time) password",
        "new_password": "New password", "confirm_password": "New password again",
        "password_hint": "At least {n} characters.", "password_mismatch": "The two new passwords differ.",
        "password_wrong": "The current password is wrong.", "password_same": "Choose a different password.",
        "password_rules": "The new password must have at least {n} characters.",
        "done_password": "Your password is changed.",
        "code_NOTHING_SELECTED": "Select at least one review.", "code_INVALID": "the form was not valid.",
        "code_REASON_REQUIRED": "choose a reason to reject.",
        "rfm_segment": "RFM segment", "churn_risk": "Churn risk", "why": "Why", "computed": "Computed",
        "program": "Program", "tiers": "Tiers", "rank": "Rank", "multiplier": "Points multiplier",
        "qualifies": "Qualifies with", "perks": "Perks", "rules": "Earning rules", "rule": "Rule", "earns": "Earns",
        "active": "Active", "switch_off": "Switch off", "switch_on": "Switch on", "rewards": "Rewards catalog",
        "cost": "Cost (points)", "stock": "Stock", "plans": "Subscription plans", "price": "Price",
        "every": "Every", "example": "What would an order earn?", "quantity": "Quantity",
        "unit_price": "Unit price (minor units)", "category": "Category", "sku": "SKU", "preview": "Preview",
        "would_earn": "This order would earn {n} points.", "done_rule": "The earning rule is saved.",
        "code_EXAMPLE": "give a whole quantity and price.", "spend": "spend {v}", "points_n": "{n} points",
        "orders_n": "{n} orders", "per_unit": "{p} per {u}",
        "questions": "Questions waiting", "asked": "Asked", "bulk_questions": "Selected questions",
        "done_questions": "Saved: {n} question(s) moderated.",
        "answers_waiting": "Answers waiting", "bulk_answers": "Selected answers", "answer_to": "Answer to",
        "done_answers": "Saved: {n} answer(s) moderated.", "author_merchant": "the store",
        "author_verified_buyer": "verified buyer",
        "members": "Members", "search_members": "Find a member", "search_label": "External ID, e-mail or name",
        "search": "Search", "no_members": "No member matches.", "name": "Name", "birthday": "Birthday",
        "joined": "Joined", "channel": "Channel", "anonymized": "Anonymized", "withheld": "withheld for your role",
        "profile": "Profile", "lifetime": "Earned in all", "expiring": "Expiring within 30 days",
        "ledger": "Points ledger", "amount": "Amount", "kind": "Kind", "source": "Source", "expires": "Expires",
        "tier_history": "Tier history", "orders": "Orders", "order": "Order", "placed": "Placed", "total": "Total",
        "refunded": "Refunded", "fulfilled": "Fulfilled", "reviews_of": "Reviews", "redemptions": "Rewards redeemed",
        "reward": "Reward", "code": "Code", "subscriptions": "Subscriptions", "plan": "Plan", "next": "Next",
        "messages_sent": "Messages", "type": "Type", "consents": "Consents", "granted": "Granted", "yes": "Yes",
        "no": "No", "adjust": "Adjust points", "adjust_amount": "Points (+ to credit, − to debit)",
        "adjust_reason": "Reason (required, kept in the ledger)", "adjust_go": "Adjust",
        "done_adjusted": "Points adjusted.", "nothing": "Nothing yet.",
        "code_AMOUNT": "give a whole number of points.", "code_INSUFFICIENT_POINTS": "the balance is too low.",
        "code_MEMBER_NOT_FOUND": "no such member.",
        "insights": "Insights", "period_from": "From", "period_to": "To", "currency": "Currency",
        "interval": "Interval", "interval_DAY": "Day", "interval_WEEK": "Week", "interval_MONTH": "Month",
        "show": "Show", "kpi_members": "Members", "kpi_active": "Active members", "kpi_new": "New members",
        "kpi_orders": "Orders", "kpi_revenue": "Revenue", "kpi_aov": "Average order value",
        "kpi_repeat": "Repeat purchase rate", "kpi_frequency": "Orders per ordering member",
        "kpi_member_share": "Members' share of revenue", "kpi_guest": "Guest orders",
        "kpi_points": "Points", "kpi_issued": "Issued", "kpi_redeemed": "Redeemed", "kpi_expired": "Expired",
        "kpi_outstanding": "Outstanding", "kpi_liability": "Liability", "kpi_breakage": "Breakage rate",
        "kpi_earn_burn": "Earn/burn ratio", "kpi_redemptions": "Redemptions", "kpi_redemption_rate": "Redemption rate",
        "kpi_days_first": "Median days to first redemption", "kpi_reviews": "Reviews", "kpi_published": "Published",
        "kpi_avg_rating": "Average rating", "kpi_media_share": "With photos or videos",
        "kpi_reply_hours": "Median hours to reply", "kpi_sla": "Negative reviews answered within the SLA",
        "kpi_tiers": "Tiers", "upgrades": "Upgrades", "downgrades": "Downgrades", "top_rewards": "Top rewards",
        "chart_revenue": "Revenue", "chart_orders": "Orders", "chart_new_members": "New members",
        "chart_points_issued": "Points issued", "charts": "Over the period", "rfm": "Members per RFM segment",
        "rfm_CHAMPIONS": "Champions", "rfm_LOYAL": "Loyal", "rfm_POTENTIAL_LOYALIST": "Potential loyalists",
        "rfm_NEW": "New", "rfm_PROMISING": "Promising", "rfm_NEED_ATTENTION": "Need attention",
        "rfm_ABOUT_TO_SLEEP": "About to sleep", "rfm_AT_RISK": "At risk", "rfm_CANT_LOSE": "Can't lose",
        "rfm_HIBERNATING": "Hibernating", "rfm_LOST": "Lost", "code_ADJUST_REASON": "say why (1 to 500 characters).",
    },
    "ko": {
        "console": "콘솔", "sign_in": "로그인", "sign_out": "로그아웃", "email": "이메일",
        "password": "비밀번호", "language": "언어", "skip": "본문으로 건너뛰기",
        "nav": "콘솔 메뉴", "inbox": "리뷰 검수함", "replies": "답글", "audit": "감사 로그",
        "signed_in_as": "{email} ({role}) 로그인 중",
        "filters": "필터", "status": "상태", "status_waiting": "검수 대기",
        "status_PENDING": "대기", "status_PUBLISHED": "게시됨", "status_REJECTED": "거절됨",
        "status_DELETED": "삭제됨", "rating": "별점", "any": "전체", "with_media": "사진·동영상",
        "media_yes": "미디어 있음", "media_no": "미디어 없음", "product": "상품", "apply": "적용",
        "stars": "별 {n}개", "no_items": "대기 중인 항목이 없습니다.", "select": "선택",
        "select_all": "이 페이지 모두 선택", "bulk": "선택한 리뷰", "approve": "승인",
        "reject": "거절", "reason": "사유", "note": "메모(내부용)", "approve_photo": "사진 승인",
        "reject_photo": "사진 거절", "held_for": "보류 사유", "reports": "신고",
        "open_reports": "처리 전 신고 {n}건", "no_text": "(별점만)", "photo": "사진", "video": "동영상",
        "reason_PROFANITY": "비속어", "reason_PERSONAL_DATA": "개인정보", "reason_LINK": "링크",
        "reason_SPAM": "스팸", "reason_OFF_TOPIC": "관련 없음", "reason_OTHER": "기타",
        "report_OFFENSIVE": "불쾌함", "report_FAKE": "허위", "report_SPAM": "스팸",
        "report_PERSONAL_DATA": "개인정보", "report_OFF_TOPIC": "관련 없음", "report_OTHER": "기타",
        "written": "작성일", "awaiting": "답글을 기다리는 부정 리뷰", "due": "답글 기한",
        "overdue": "{t} 지남", "left": "{t} 남음", "reply": "답글", "your_reply": "답글 내용",
        "send_reply": "답글 등록", "edit_reply": "답글 수정", "save_reply": "답글 저장",
        "current_reply": "현재 답글", "review": "리뷰", "more": "다음 페이지",
        "done_moderated": "저장됨: 리뷰 {n}건을 처리했습니다.", "done_media": "저장됨: 사진을 처리했습니다.",
        "done_replied": "답글을 저장했습니다.", "error": "저장하지 못했습니다: {message}",
        "wrong_credentials": "이메일 또는 비밀번호가 올바르지 않습니다.",
        "locked": "비밀번호를 여러 번 틀려 계정이 잠겼습니다. 잠시 후 다시 시도하세요.",
        "throttled": "이 주소에서 시도가 너무 많습니다. 15분 후 다시 시도하세요.",
        "forbidden": "이 페이지를 열 수 없습니다", "forbidden_text": "현재 역할로는 허용되지 않습니다.",
        "csrf": "양식이 만료되었습니다. 페이지를 새로 고친 뒤 다시 시도하세요.", "not_found": "찾을 수 없음",
        "member": "회원", "points": "포인트", "balance": "잔액", "pending": "적립 예정",
        "tier": "등급", "none": "없음", "when": "일시", "who": "누가", "what": "무엇을", "detail": "내용",
        "from": "접속 주소", "choose_reason": "사유 선택", "nothing_selected": "리뷰를 하나 이상 선택하세요.",
        "reply_to": "리뷰 {id}에 답글",
        "change_password": "비밀번호 설정", "current_password": "현재(일회용) 비밀번호",
        "new_password": "새 비밀번호", "confirm_password": "새 비밀번호 확인",
        "password_hint": "{n}자 이상.", "password_mismatch": "새 비밀번호가 서로 다릅니다.",
        "password_wrong": "현재 비밀번호가 올바르지 않습니다.", "password_same": "다른 비밀번호를 선택하세요.",
        "password_rules": "새 비밀번호는 {n}자 이상이어야 합니다.",
        "done_password": "비밀번호를 변경했습니다.",
        "code_NOTHING_SELECTED": "리뷰를 하나 이상 선택하세요.", "code_INVALID": "양식이 올바르지 않습니다.",
        "code_REASON_REQUIRED": "거절 사유를 선택하세요.",
        "rfm_segment": "RFM 세그먼트", "churn_risk": "이탈 위험", "why": "근거", "computed": "계산 시각",
        "program": "프로그램", "tiers": "등급", "rank": "순위", "multiplier": "적립 배율",
        "qualifies": "달성 조건", "perks": "혜택", "rules": "적립 규칙", "rule": "규칙", "earns": "적립",
        "active": "사용 중", "switch_off": "끄기", "switch_on": "켜기", "rewards": "리워드 목록",
        "cost": "필요 포인트", "stock": "재고", "plans": "구독 플랜", "price": "가격",
        "every": "주기", "example": "이 주문은 얼마나 적립될까요?", "quantity": "수량",
        "unit_price": "단가 (최소 화폐 단위)", "category": "카테고리", "sku": "SKU", "preview": "미리 보기",
        "would_earn": "이 주문은 {n} 포인트가 적립됩니다.", "done_rule": "적립 규칙을 저장했습니다.",
        "code_EXAMPLE": "수량과 가격을 정수로 입력하세요.", "spend": "구매액 {v}", "points_n": "{n} 포인트",
        "orders_n": "주문 {n}건", "per_unit": "{u}당 {p}",
        "questions": "검수 대기 질문", "asked": "질문일", "bulk_questions": "선택한 질문",
        "done_questions": "저장됨: 질문 {n}건을 처리했습니다.",
        "answers_waiting": "검수 대기 답변", "bulk_answers": "선택한 답변", "answer_to": "질문",
        "done_answers": "저장됨: 답변 {n}건을 처리했습니다.", "author_merchant": "스토어",
        "author_verified_buyer": "구매 인증 고객",
        "members": "회원", "search_members": "회원 찾기", "search_label": "외부 ID, 이메일 또는 이름",
        "search": "검색", "no_members": "일치하는 회원이 없습니다.", "name": "이름", "birthday": "생일",
        "joined": "가입일", "channel": "가입 경로", "anonymized": "익명화됨", "withheld": "현재 역할로는 볼 수 없음",
        "profile": "프로필", "lifetime": "누적 적립", "expiring": "30일 내 소멸 예정",
        "ledger": "포인트 내역", "amount": "포인트", "kind": "구분", "source": "출처", "expires": "소멸일",
        "tier_history": "등급 변경 이력", "orders": "주문", "order": "주문", "placed": "주문일", "total": "금액",
        "refunded": "환불", "fulfilled": "배송 완료", "reviews_of": "리뷰", "redemptions": "사용한 리워드",
        "reward": "리워드", "code": "코드", "subscriptions": "구독", "plan": "플랜", "next": "다음",
        "messages_sent": "메시지", "type": "유형", "consents": "수신 동의", "granted": "동의", "yes": "예",
        "no": "아니요", "adjust": "포인트 조정", "adjust_amount": "포인트 (+ 지급, − 차감)",
        "adjust_reason": "사유 (필수, 내역에 남음)", "adjust_go": "조정",
        "done_adjusted": "포인트를 조정했습니다.", "nothing": "아직 없습니다.",
        "code_AMOUNT": "포인트를 정수로 입력하세요.", "code_INSUFFICIENT_POINTS": "잔액이 부족합니다.",
        "code_MEMBER_NOT_FOUND": "해당 회원이 없습니다.",
        "insights": "인사이트", "period_from": "시작일", "period_to": "종료일", "currency": "통화",
        "interval": "간격", "interval_DAY": "일", "interval_WEEK": "주", "interval_MONTH": "월",
        "show": "보기", "kpi_members": "회원", "kpi_active": "활성 회원", "kpi_new": "신규 회원",
        "kpi_orders": "주문", "kpi_revenue": "매출", "kpi_aov": "평균 주문 금액",
        "kpi_repeat": "재구매율", "kpi_frequency": "주문 회원당 주문 수",
        "kpi_member_share": "회원 매출 비중", "kpi_guest": "비회원 주문",
        "kpi_points": "포인트", "kpi_issued": "지급", "kpi_redeemed": "사용", "kpi_expired": "소멸",
        "kpi_outstanding": "미사용 잔액", "kpi_liability": "포인트 부채", "kpi_breakage": "소멸률",
        "kpi_earn_burn": "적립/사용 비율", "kpi_redemptions": "리워드 교환", "kpi_redemption_rate": "교환율",
        "kpi_days_first": "첫 교환까지 일수(중앙값)", "kpi_reviews": "리뷰", "kpi_published": "게시",
        "kpi_avg_rating": "평균 별점", "kpi_media_share": "사진·동영상 포함",
        "kpi_reply_hours": "답글까지 시간(중앙값)", "kpi_sla": "기한 내 답변한 부정 리뷰",
        "kpi_tiers": "등급", "upgrades": "승급", "downgrades": "강등", "top_rewards": "인기 리워드",
        "chart_revenue": "매출", "chart_orders": "주문", "chart_new_members": "신규 회원",
        "chart_points_issued": "지급 포인트", "charts": "기간 추이", "rfm": "RFM 세그먼트별 회원 수",
        "rfm_CHAMPIONS": "챔피언", "rfm_LOYAL": "충성 고객", "rfm_POTENTIAL_LOYALIST": "잠재 충성 고객",
        "rfm_NEW": "신규", "rfm_PROMISING": "유망", "rfm_NEED_ATTENTION": "관심 필요",
        "rfm_ABOUT_TO_SLEEP": "휴면 직전", "rfm_AT_RISK": "이탈 위험", "rfm_CANT_LOSE": "놓치면 안 될 고객",
        "rfm_HIBERNATING": "휴면", "rfm_LOST": "이탈", "code_ADJUST_REASON": "사유를 입력하세요 (1~500자).",
    },
}


def extend(messages: dict[str, dict[str, str]]) -> None:
    """A page module's own words (web/console/<page>.py calls this at import), so pages do not
    all edit one table. Both languages must have the same keys, and no key may be taken twice."""
    if set(messages) != set(LOCALES) or len({frozenset(m) for m in messages.values()}) != 1:
        raise ValueError("console messages need the same keys in every language: " + ", ".join(LOCALES))
    for locale, words in messages.items():
        taken = set(words) & set(MESSAGES[locale])
        if taken:
            raise ValueError(f"console message keys already taken: {sorted(taken)}")
        MESSAGES[locale].update(words)


def pick_locale(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LOCALES:
        return cookie  # type: ignore[return-value]
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LOCALES:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if best is None or q > best[0]:
            best = (q, lang)
    return best[1] if best else get_settings().default_locale


class Translator:
    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.zone = ZoneInfo(get_settings().default_timezone)

    def __call__(self, key: str, **values: object) -> str:
        text = MESSAGES[self.locale].get(key) or MESSAGES["en"].get(key) or key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in MESSAGES[self.locale]

    def datetime(self, value: dt.datetime | str | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return format_datetime(value.astimezone(self.zone), "medium", locale=self.locale)

    def date(self, value: dt.date | str) -> str:
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        return format_date(value, "medium", locale=self.locale)

    def share(self, value: float | None) -> str:
        """A 0–1 share as a percentage; an em dash when the API has no figure (null)."""
        return "—" if value is None else format_percent(value, "#,##0.#%", locale=self.locale)

    def duration(self, delta: dt.timedelta) -> str:
        return format_timedelta(abs(delta), threshold=1.5, granularity="minute", locale=self.locale)

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def money(self, minor_units: int | float, currency: str) -> str:
        """An amount in minor units (as the API gives it), e.g. 12900 KRW → ₩12,900."""
        return format_currency(minor_units / 10 ** get_currency_precision(currency), currency, locale=self.locale)

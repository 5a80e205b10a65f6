from tortoise import fields
from tortoise.models import Model


class MemberInsight(Model):
    # One member's figures as the nightly `member_insights` job last computed them (RFM,
    # BG/NBD churn risk and expected purchases, Gamma-Gamma CLV). Stored so segments filter on
    # them in SQL and one member's `insights` is a primary-key read; derived from orders only,
    # so the job can always recompute it.

    member = fields.OneToOneField("patron.Member", primary_key=True, related_name="insight")
    recency_days = fields.IntField(null=True)  # days since the last order; null: never ordered
    frequency = fields.IntField()  # orders (not fully refunded) over the member's history
    monetary = fields.DecimalField(max_digits=18, decimal_places=2)  # average order value
    currency = fields.CharField(max_length=3)
    r_score = fields.SmallIntField()  # quintiles 1..5 among the brand's members (0: never ordered)
    f_score = fields.SmallIntField()
    m_score = fields.SmallIntField()
    rfm_segment = fields.CharField(max_length=32)  # CHAMPIONS, LOYAL, …, HIBERNATING, LOST
    churn_risk = fields.FloatField(null=True)  # 1 - P(alive); null: not enough history to fit
    expected_purchases_90d = fields.FloatField(null=True)
    clv_12m = fields.DecimalField(max_digits=18, decimal_places=2, null=True)
    explanation = fields.CharField(max_length=500)  # Patron's own words, numbers only
    computed_at = fields.DatetimeField()

    class Meta:
        table = "member_insights"
        indexes = (("rfm_segment",), ("churn_risk",))

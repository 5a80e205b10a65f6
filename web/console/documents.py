"""The GraphQL documents the console pages run (the same ones a client could send)."""

INBOX = """
query Inbox($status: ModerationStatus, $rating: Int, $withMedia: Boolean, $product: String, $after: String) {
  reviewModerationQueue(first: 25, after: $after, status: $status, rating: $rating, withMedia: $withMedia,
                        productExternalId: $product) {
    edges { node {
      id rating title body ratingOnly status rejectReason createdAt productExternalId openReports
      author { displayName }
      reply { body }
      media { id kind url thumbnailUrl status rejectReason }
      reports { reason comment createdAt }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

MODERATE = """
mutation Moderate($input: ModerateInput!) {
  moderateReview(input: $input) { review { id status } errors { field message code } }
}"""

MODERATE_MEDIA = """
mutation ModerateMedia($input: ModerateInput!) {
  moderateReviewMedia(input: $input) { review { id } errors { field message code } }
}"""

QUESTIONS = """
query Questions {
  questionModerationQueue(first: 50) {
    totalCount
    edges { node { id body authorName status rejectReason createdAt productExternalId } }
  }
}"""

MODERATE_QUESTION = """
mutation ModerateQuestion($input: ModerateInput!) {
  moderateQuestion(input: $input) { question { id status } errors { field message code } }
}"""

ANSWERS = """
query Answers {
  answerModerationQueue(first: 50) {
    totalCount
    edges { node { id body authorName authorKind status rejectReason createdAt
                   question { body productExternalId } } }
  }
}"""

MODERATE_ANSWER = """
mutation ModerateAnswer($input: ModerateInput!) {
  moderateAnswer(input: $input) { answer { id status } errors { field message code } }
}"""

AWAITING = """
query Awaiting($after: String) {
  reviewsAwaitingReply(first: 100, after: $after) {
    totalCount
    edges { node { id rating title body ratingOnly createdAt replyDueAt productExternalId author { displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

REVIEW = """
query OneReview($id: ID!) {
  node(id: $id) { ... on Review { id rating title body ratingOnly createdAt productExternalId
                                  author { displayName } reply { body repliedAt } } }
}"""

REPLY = """
mutation Reply($input: ReplyInput!) {
  replyToReview(input: $input) { review { id } errors { field message code } }
}"""

MEMBER_SEARCH = """
query MemberSearch($search: String, $after: String) {
  members(first: 25, after: $after, search: $search) {
    edges { node { externalId email name anonymized points { balance } tier { name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

# Member 360: one customer's whole story in one request (fields the role may not read come back
# null or empty from the schema itself: e-mail and review text without members:pii).
MEMBER = """
query Member($externalId: String!) {
  member(externalId: $externalId) {
    externalId email name birthday personalDataWithheld createdAt anonymized signupChannel locale timezone
    points { balance pending lifetimeEarned expiringSoon(days: 30) }
    tier { name }
    insights { rfmSegment churnRisk explanation computedAt recencyDays frequency monetary { amount currency }
               expectedPurchases90d clv12m { amount currency } }
    tierHistory { fromTier toTier reason createdAt }
    consents { purpose granted source updatedAt }
    consentHistory(first: 50) { purpose granted source at }
    ledger(first: 50) { edges { node { id amount kind reason sourceType sourceId createdAt expiresAt } } }
    orders(first: 20) { edges { node { externalId placedAt channel total { amount currency }
                                        refunded { amount currency } fulfilledAt } } }
    reviews { id rating title status rejectReason createdAt productExternalId }
    redemptions { code status points createdAt reward { name } }
    subscriptions { status sku nextDeliveryAt plan { name } }
    messages(first: 20) { edges { node { type channel status reason scheduledFor sentAt } } }
  }
}"""

ADJUST = """
mutation Adjust($input: AdjustPointsInput!) {
  adjustPoints(input: $input) { member { points { balance } } errors { field message code } }
}"""

AUDIT = """
query Audit($after: String) {
  staffAuditLog(first: 50, after: $after) {
    edges { node { at email action detail ip } }
    pageInfo { hasNextPage endCursor }
  }
}"""

# Every programInsights figure over the chosen period, the four series for the charts, and the
# RFM segment sizes.
INSIGHTS = """
query Insights($from: Date!, $to: Date!, $currency: String!, $interval: InsightInterval!) {
  programInsights(from: $from, to: $to, currency: $currency) {
    members { total active newInPeriod }
    orders { count revenue { amount currency } averageOrderValue { amount currency } repeatPurchaseRate
             purchaseFrequency memberShareOfRevenue guestOrders }
    points { issued redeemed expired outstanding pending liability { amount currency } breakageRate earnBurnRatio }
    redemptions { count rate medianDaysToFirstRedemption topRewards { reward { name } count } }
    tiers { tier { name } members upgrades downgrades }
    reviews { published averageRating withMediaShare replyMedianHours negativeRepliedWithinSlaShare }
    revenue: series(metric: REVENUE, interval: $interval) { at value }
    orderCount: series(metric: ORDERS, interval: $interval) { at value }
    newMembers: series(metric: NEW_MEMBERS, interval: $interval) { at value }
    pointsIssued: series(metric: POINTS_ISSUED, interval: $interval) { at value }
  }
  rfmSegments { segment members share }
}"""

# The program as a shopper and the brand see it (tiers, rules, rewards, plans are public
# queries; inactive rules and rewards come back only for admins), with an earning example.
PROGRAM = """
query Program($preview: PreviewEarningInput!) {
  tiers { id name rank earnMultiplier perks minSpend { amount currency } minPoints minOrders requireAll window }
  earningRules(includeInactive: true) { id name type active points pointsPerUnit currencyUnit currency capPoints
                                         capPeriod applyTierMultiplier pendingDays startsAt endsAt }
  rewards(includeInactive: true) { id name type pointsCost discount { amount currency } percent sku minTierRank
                                   stock active }
  subscriptionPlans { id name kind intervalUnit intervalCount price { amount currency } discountPercent trialDays
                      active }
  previewEarning(input: $preview) { points lines { ruleName points eligibleAmount multiplier } }
}"""

SET_RULE_ACTIVE = """
mutation RuleActive($id: ID!, $active: Boolean!) {
  updateEarningRule(id: $id, input: {active: $active}) { rule { id active } errors { field message code } }
}"""

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

MEMBER = """
query Member($externalId: String!) {
  member(externalId: $externalId) {
    externalId email name personalDataWithheld createdAt
    points { balance pending }
    tier { name }
  }
}"""

AUDIT = """
query Audit($after: String) {
  staffAuditLog(first: 50, after: $after) {
    edges { node { at email action detail ip } }
    pageInfo { hasNextPage endCursor }
  }
}"""

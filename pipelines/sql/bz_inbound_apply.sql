-- bz_inbound_apply.sql: one row of the city's checked approvals file
-- (specs/mtp.md, bz_inbound.sh), run by sched-query --each-row with the
-- columns approved_confirm, slots_approved, business_code and hash bound as
-- parameters; every row of a file in one transaction.
--
-- Y: the business's pending requests become active with slots_approved.
-- N: they become deleted. Empty: nothing. A request no longer pending is
-- left alone. The row names the business, not one request (the city may
-- reformat the created column), so every pending request of the business
-- is decided. The hash is checked again here, in the transaction.
UPDATE ea_business_request
SET	status = CASE WHEN @approved_confirm = 'Y' THEN 'active'
		      ELSE 'deleted' END,
	slots_approved = CASE WHEN @approved_confirm = 'Y'
			      THEN CAST(@slots_approved AS INT)
			      ELSE slots_approved END
WHERE	business_code = @business_code
  AND	status = 'pending'
  AND	@approved_confirm IN ('Y', 'N')
  AND	EXISTS (SELECT 1 FROM ea_business B
		WHERE B.business_code = @business_code AND B.hash = @hash);

-- bz_inbound_apply.sql: one row of the city's checked approvals file
-- (specs/mtp.md, bz_inbound.sh), run by sched-query --each-row with the
-- columns approved_confirm, slots_approved, business_code and hash bound as
-- parameters; every row of a file in one transaction, on the Mass Testing
-- Platform's own MySQL/MariaDB database.
--
-- The row names one request: its business_code is unique (migration 029).
-- Y: the request becomes active with slots_approved. N: it becomes
-- deleted (slots_approved stays). Empty: nothing. A request no longer
-- pending is left alone, as the platform's own import does. modified is
-- set as the platform sets it on every change (it has no default since
-- migration 029). The hash is checked again here, in the transaction,
-- against the request's business.
UPDATE	ea_business_request R
JOIN	ea_business B ON B.id = R.id_business
SET	R.status = CASE WHEN @approved_confirm = 'Y' THEN 'active'
			ELSE 'deleted' END,
	R.slots_approved = CASE WHEN @approved_confirm = 'Y'
				THEN CAST(@slots_approved AS UNSIGNED)
				ELSE R.slots_approved END,
	R.modified = NOW()
WHERE	R.business_code = @business_code
  AND	R.status = 'pending'
  AND	@approved_confirm IN ('Y', 'N')
  AND	B.hash = @hash;

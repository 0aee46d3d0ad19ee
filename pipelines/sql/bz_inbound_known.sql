-- bz_inbound_known.sql: every business code that names a business request,
-- with its business's hash (specs/mtp.md, bz_inbound.sh). The job checks
-- each row of the city's file against this list before applying anything:
-- the business_code must name an existing request and the hash must be its
-- business's. A code without a business row comes with an empty hash.
SELECT	R.business_code,
	COALESCE(B.hash, '') AS hash
FROM ea_business_request R
LEFT JOIN ea_business B ON B.business_code = R.business_code
GROUP BY R.business_code, B.hash
ORDER BY R.business_code;

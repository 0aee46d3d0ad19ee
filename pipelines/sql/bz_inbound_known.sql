-- bz_inbound_known.sql: every business code that names a business request,
-- with its business's hash (specs/mtp.md, bz_inbound.sh), from the Mass
-- Testing Platform's own MySQL/MariaDB database. The job checks each row
-- of the city's file against this list before applying anything: the
-- business_code must name an existing request and the hash must be that
-- request's business's (ea_business_request.id_business -> ea_business.id).
-- A request whose business is gone comes with an empty hash. Codes are
-- unique (migration 029): one row a request.
SELECT	R.business_code,
	COALESCE(B.hash, '') AS hash
FROM ea_business_request R
LEFT JOIN ea_business B ON B.id = R.id_business
ORDER BY R.business_code;

-- bz_outbound.sql: the pending business requests created in a window, for
-- the city to approve (specs/mtp.md, bz_outbound.sh), from the Mass
-- Testing Platform's own MySQL/MariaDB database.
--
--   @start  the window's first second, YYYY-MM-DD HH:MM:SS (included)
--   @end    its last second (included): HH:00:00 to HH:59:59 for an hour
--
-- Each request has its own business_code (unique in ea_business_request,
-- migration 029) and points at its business by id_business (migration
-- 028); the hash is the business's. approved_confirm and slots_approved
-- are empty, for the city to fill; pipelines/shapes/bz_outbound.shape
-- writes created as YYYY-MM-DD HH:MM:SS.
SELECT	'' AS approved_confirm,
	'' AS slots_approved,
	R.slots_requested,
	B.business_name,
	R.business_code,
	B.owner_first_name,
	B.owner_last_name,
	B.business_phone,
	B.mobile_phone,
	B.email,
	B.address,
	B.city,
	B.state,
	B.zip_code,
	R.created,
	B.hash
FROM ea_business_request R
JOIN ea_business B ON B.id = R.id_business
WHERE R.status = 'pending'
  AND R.created >= @start AND R.created <= @end
ORDER BY R.created, R.id;

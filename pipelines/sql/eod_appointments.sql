-- eod_appointments.sql: the day's patient appointments for the Mass
-- Testing Platform's printer and master files (specs/mtp.md, eod_data.sh),
-- read from the platform's own MySQL/MariaDB database
-- (SCHEDFEED_DB_DRIVER=mysql; tests/fixtures/mtp/schema.mariadb.sql has
-- its tables as the platform defines them).
--
-- One result feeds all three files: pipelines/shapes/printer_appointments,
-- printer_requisition and master pick, rename, reformat and number the
-- columns. Parameters, worked out by pipelines/eod_data.sh:
--
--   @day         the day, YYYY-MM-DD
--   @next_day    the day after: the first day NOT included
--
-- ea_users.dob is a DATETIME (migration 013): the master file keeps it as
-- stored, YYYY-MM-DD HH:MM:SS; the printer shapes write its date part.
-- The age in whole years at @day is taken from the date part, so a dob
-- stored with a time of day does not make anyone a year younger on their
-- birthday. A missing dob gives an empty age and pediatric_swab No.
--
-- The patient type comes from the code the appointment was booked with
-- (ea_appointments.business_code, migration 029): any code, a critical
-- infrastructure employee. first_responder is stored as '0' or '1'
-- (migration 025). language_pref, language_pref_other, doctor_provider and
-- doctor_provider_other are no longer stored (migration 017 dropped them):
-- the files keep the columns, blank, as the platform's own export does.
--
-- Dates in the result are the stored date-times; csv-shape writes the
-- printer's formats (start_datetime "May 07 05:00AM", app_start
-- "Thursday 7th, May 2020 05:00 AM"). Order: start time, then last name
-- (then first name and the appointment id, so ties are stable).
SELECT	A.hash AS ereqnumber,
	A.book_datetime,
	A.start_datetime,
	A.end_datetime,
	A.notes,
	U.first_name,
	U.last_name,
	U.middle_initial,
	U.email,
	U.mobile_number,
	U.phone_number,
	U.address,
	U.apt,
	U.city,
	U.state,
	U.zip_code,
	U.county,
	U.id_roles,
	U.gender,
	U.dob,
	U.ssn,
	'' AS language_pref,
	'' AS language_pref_other,
	U.patient_id,
	U.patient_contact_pref,
	U.patient_consent,
	U.patient_consent_sms,
	U.patient_pui,
	U.patient_pui_reason_1,
	U.patient_pui_reason_2,
	U.patient_pui_reason_3,
	U.patient_pui_reason_4,
	U.patient_pui_reason_5,
	U.patient_pui_reason_6,
	U.patient_pui_reason_7,
	U.doctor_first_name,
	U.doctor_last_name,
	U.doctor_npi,
	U.doctor_address,
	U.doctor_city,
	U.doctor_state,
	U.doctor_zip_code,
	'' AS doctor_provider,
	'' AS doctor_provider_other,
	U.provider_patient_id,
	U.doctor_phone_number,
	U.rx_date,
	U.pcp_first_name,
	U.pcp_last_name,
	U.pcp_phone_number,
	U.pcp_address,
	U.pcp_city,
	U.pcp_state,
	U.pcp_zip_code,
	U.caller,
	U.first_responder,
	-- "Last, First"
	CONCAT(COALESCE(U.last_name, ''), ', ', COALESCE(U.first_name, ''))
	    AS name,
	-- the first two letters of the last name, the first capitalised
	CONCAT(UPPER(LEFT(COALESCE(U.last_name, ''), 1)),
	    SUBSTRING(COALESCE(U.last_name, ''), 2, 1)) AS last_name_abbrv,
	TIMESTAMPDIFF(YEAR, DATE(U.dob), DATE(@day)) AS age,
	CASE WHEN TIMESTAMPDIFF(YEAR, DATE(U.dob), DATE(@day)) < 16
	     THEN 'Yes' ELSE 'No' END AS pediatric_swab,
	CASE WHEN TRIM(COALESCE(A.business_code, '')) <> ''
	     THEN 'Critical Infrastructure Employee'
	     ELSE 'General Public' END AS patient_type,
	CASE WHEN TRIM(COALESCE(A.business_code, '')) <> ''
	     THEN 'CRITICAL INFRASTRUCTURE EMPLOYEE'
	     ELSE '' END AS prescription_content,
	CASE WHEN U.first_responder = '1' THEN 'Yes' ELSE 'No' END
	    AS first_responder_yes_no,
	A.start_datetime AS app_start
FROM ea_appointments A
JOIN ea_users U ON U.id = A.id_users_customer
WHERE A.start_datetime >= @day AND A.start_datetime < @next_day
  AND COALESCE(A.is_unavailable, 0) = 0
ORDER BY A.start_datetime, U.last_name, U.first_name, A.id;

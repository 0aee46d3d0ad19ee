-- eod_appointments.sql: the day's patient appointments for the Mass
-- Testing Platform's printer and master files (specs/mtp.md, eod_data.sh).
--
-- One result feeds all three files: pipelines/shapes/printer_appointments,
-- printer_requisition and master pick, rename, reformat and number the
-- columns. Portable SQL (runs on SQL Server and on tdsd over SQLite):
-- COALESCE, no dbo., no GETDATE(), no CONVERT, no DATEPART, and
-- no string concatenation (SQL Server's + is SQLite's ||): the two values
-- built from several columns are made with REPLACE on a template instead.
-- Parameters, worked out by pipelines/eod_data.sh:
--
--   @day         the day, YYYY-MM-DD
--   @next_day    the day after: the first day NOT included
--   @day_number  the day as the integer YYYYMMDD, for ages
--
-- Age in whole years at @day: (YYYYMMDD of the day - YYYYMMDD of the
-- birth date) / 10000 in integer arithmetic. ea_users.dob is a DATE,
-- which SQL Server turns into 'YYYY-MM-DD' text for REPLACE, as SQLite
-- stores it. A missing dob gives an empty age and pediatric_swab No.
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
	U.language_pref,
	U.language_pref_other,
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
	U.doctor_provider,
	U.doctor_provider_other,
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
	REPLACE(REPLACE('~L~, ~F~', '~F~', COALESCE(U.first_name, '')),
	    '~L~', COALESCE(U.last_name, '')) AS name,
	-- the first two letters of the last name, the first capitalised
	REPLACE(REPLACE('~1~~2~', '~2~', SUBSTRING(COALESCE(U.last_name, ''), 2, 1)),
	    '~1~', UPPER(SUBSTRING(COALESCE(U.last_name, ''), 1, 1)))
	    AS last_name_abbrv,
	(@day_number - CAST(REPLACE(U.dob, '-', '') AS INT)) / 10000 AS age,
	CASE WHEN (@day_number - CAST(REPLACE(U.dob, '-', '') AS INT)) / 10000 < 16
	     THEN 'Yes' ELSE 'No' END AS pediatric_swab,
	CASE WHEN RTRIM(COALESCE(U.business_code, '')) <> ''
	     THEN 'Critical Infrastructure Employee'
	     ELSE 'General Public' END AS patient_type,
	CASE WHEN RTRIM(COALESCE(U.business_code, '')) <> ''
	     THEN 'CRITICAL INFRASTRUCTURE EMPLOYEE'
	     ELSE '' END AS prescription_content,
	CASE WHEN U.first_responder = 1 THEN 'Yes' ELSE 'No' END
	    AS first_responder_yes_no,
	A.start_datetime AS app_start
FROM ea_appointments A
JOIN ea_users U ON U.id = A.id_users_customer
WHERE A.start_datetime >= @day AND A.start_datetime < @next_day
  AND A.is_unavailable = 0
ORDER BY A.start_datetime, U.last_name, U.first_name, A.id;

-- iq_daily.sql: the iQueue daily infusion feed (specs/iqueue.md).
--
-- A portable rewrite of UNMCCC's iQueueDaily.sql: it runs unchanged on
-- MOSAIQ's SQL Server and on tdsd over the demo database. Hence CTEs, not
-- #temp tables; COALESCE, not ISNULL; no dbo. prefix, no GETDATE(), no
-- CONVERT, no string concatenation. Dates come in as parameters, worked
-- out by pipelines/iq_daily.sh:
--
--   @past_day     previous business day (Monday: the Friday before)
--   @past_end     the day after @past_day
--   @today        the run date
--   @horizon_end  the run date + 61 days: the first day NOT included
--   @dept         vw_Schedule.Dept to export (IQ_DEPT, e.g. UNMMO)
--
-- Text comparisons use LIKE (case-insensitive on SQL Server's usual
-- collation and, for ASCII, on SQLite) and RTRIM (SQL Server ignores
-- trailing blanks in =, SQLite does not), so a char(2) code 'C ' and a
-- last name 'Test' behave the same on both. Codes are mapped after
-- UPPER(RTRIM()), for the same reason.
--
-- The output columns are the data only; csv-shape (pipelines/shapes/
-- iqueue.shape) adds the constants Unit and Visit_Type, puts the columns
-- in the partner's order and writes the queue times as HH:MM.

WITH queued AS (
	-- Visits queued on the past day in a chair, bed or infusion area.
	SELECT	Q.Sch_Id,
		Q.QueLoc,
		Q.Arrived,
		Q.TransItem,
		Q.Complete_time
	FROM vw_QueBro Q
	WHERE Q.Version = 0
	  AND Q.App_DtTm >= @past_day AND Q.App_DtTm < @past_end
	  AND (Q.QueLoc LIKE '%Chair%' OR Q.QueLoc LIKE '%Bed%'
	       OR Q.QueLoc LIKE '%Infusion%')
),
sched AS (
	-- The department's appointments on the past day and in the
	-- horizon, with the flags the reference query computes.
	SELECT	S.Pat_ID1,
		S.Sch_Id,
		S.App_DtTm,
		S.Duration_time,
		S.Location,
		S.Short_Desc,
		S.SysDefStatus,
		S.UserDefStatus,
		SCH.Create_DtTm,
		SCH.Edit_DtTm,
		CASE WHEN S.Location LIKE '%Infusion%'
		       OR S.Location LIKE '%Chair%'
		       OR S.Location LIKE '%Bed%'
		       OR S.Short_Desc LIKE '%Infusion%'
		       OR S.Short_Desc LIKE '%Blood Trans%'
		       OR S.Short_Desc LIKE '%Platelet Trans%'
		       OR S.Short_Desc LIKE '%Transfusion%'
		       OR S.Short_Desc LIKE '%Platelets%'
		       OR S.Short_Desc LIKE '%Phlebotomy%'
		       OR S.Short_Desc LIKE '%Chemo Teach%'
		       OR S.Short_Desc LIKE '%Chemo New Start%'
		       OR S.Short_Desc LIKE '%Stem Cell%'
		       OR S.Short_Desc LIKE '%Bladder instil. chem%'
		       OR S.Short_Desc LIKE '%Observation%'
		       -- exact names (not '%Chemo%': that takes pre-chemo visits)
		       OR RTRIM(S.Short_Desc) LIKE 'IV Chemo Initial Hr'
		       OR RTRIM(S.Short_Desc) LIKE 'IV P Chemo Initial'
		       OR RTRIM(S.Short_Desc) LIKE 'NC IV Push Initial'
		       OR RTRIM(S.Short_Desc) LIKE 'SQ/IM Hormonal Chemo'
		       OR RTRIM(S.Short_Desc) LIKE 'SQ/IM NH Chemo'
		       OR RTRIM(S.Short_Desc) LIKE 'Hydration'
		       OR RTRIM(ST.Last_Name) LIKE 'Infusion'
		     THEN 1 ELSE 0 END AS is_infusion,
		CASE WHEN COALESCE(RTRIM(I.IDA), '') = ''		-- blank
		       OR RTRIM(REPLACE(I.IDA, '*', '')) = ''		-- all stars
		       OR RTRIM(REPLACE(I.IDA, '0', '')) = ''		-- all zeros
		       OR RTRIM(I.IDA) = '123'
		       OR I.IDA LIKE '%Do Not Use%'
		       OR RTRIM(P.Last_Name) LIKE 'TEST'
		       OR RTRIM(S.PAT_NAME) LIKE 'SAMPLE, PATIENT'
		     THEN 1
		     WHEN A.Expired_DtTm IS NOT NULL			-- deceased
		       OR RTRIM(COALESCE(I.IDC, '')) <> ''
		     THEN 1
		     WHEN P.Inactive <> 0				-- inactive
		     THEN 1
		     ELSE 0 END AS is_excluded
	FROM vw_Schedule S
	JOIN Schedule SCH ON SCH.Pat_ID1 = S.Pat_ID1 AND SCH.Sch_Id = S.Sch_Id
	JOIN Ident I ON I.Pat_ID1 = S.Pat_ID1
	JOIN Admin A ON A.Pat_ID1 = S.Pat_ID1
	JOIN Patient P ON P.Pat_ID1 = S.Pat_ID1
	LEFT JOIN Staff ST ON ST.Staff_ID = S.Staff_ID
	WHERE S.Dept = @dept
	  AND ((S.App_DtTm >= @past_day AND S.App_DtTm < @past_end)
	       OR (S.App_DtTm >= @today AND S.App_DtTm < @horizon_end))
),
feed AS (
	-- Which appointments, and as what. Past: the past day's infusion
	-- appointments, whatever their status, and visits queued in a
	-- chair, bed or infusion area even when scheduled as something
	-- else. Future: infusion appointments from the run date to the
	-- horizon.
	SELECT	'Past' AS Rec_Type,
		sched.Sch_Id
	FROM sched
	LEFT JOIN queued ON queued.Sch_Id = sched.Sch_Id
	WHERE sched.App_DtTm >= @past_day AND sched.App_DtTm < @past_end
	  AND sched.is_excluded = 0
	  AND (sched.is_infusion = 1 OR queued.Sch_Id IS NOT NULL)
	UNION
	SELECT	'Future',
		sched.Sch_Id
	FROM sched
	WHERE sched.App_DtTm >= @today AND sched.App_DtTm < @horizon_end
	  AND sched.is_excluded = 0
	  AND sched.is_infusion = 1
)
-- DISTINCT: the reference query's UNION, which folds identical rows
-- (a visit queued twice at the same place and times is one row).
SELECT DISTINCT
	feed.Rec_Type,
	sched.Pat_ID1 AS Internal_Patient_ID,
	sched.Short_Desc AS Appt_Type,
	sched.App_DtTm AS Appt_DtTm,
	-- hundredths of a second to whole minutes (integer division)
	COALESCE(sched.Duration_time, 0) / 6000 AS S_DurationMin,
	sched.Location AS Scheduled_Location,
	RTRIM(sched.SysDefStatus) AS Primary_Status_Code,
	CASE UPPER(RTRIM(COALESCE(sched.SysDefStatus, '')))
		WHEN 'N' THEN 'No Show'
		WHEN 'X' THEN 'Canceled'
		WHEN 'E' THEN 'Ended'
		WHEN 'C' THEN 'Completed'
		WHEN 'OC' THEN 'Completed'
		WHEN 'SC' THEN 'Completed'
		WHEN 'FC' THEN 'Completed'
		WHEN 'B' THEN 'Break'
		WHEN 'M' THEN 'Machine Down'
		WHEN 'F' THEN 'Final'
		WHEN '' THEN 'Unresolved'
		ELSE 'Other'
	END AS Primary_Status,
	RTRIM(sched.UserDefStatus) AS Secondary_Status_Code,
	-- As the spec's table: NULL is blank, a blank code is Other.
	CASE WHEN sched.UserDefStatus IS NULL THEN ''
	     ELSE CASE UPPER(RTRIM(sched.UserDefStatus))
		WHEN 'HS' THEN 'Hospitalization'
		WHEN 'MR' THEN 'MD Request'
		WHEN 'MD' THEN 'MD Request'
		WHEN 'PR' THEN 'Patient Request'
		WHEN 'SE' THEN 'Scheduled in Error'
		WHEN 'NT' THEN 'No Treatment'
		WHEN 'RS' THEN 'Rescheduled'
		WHEN 'WO' THEN 'Walk Out'
		ELSE 'Other'
	     END
	END AS S_SecondaryStatus,
	sched.Create_DtTm AS Appt_Made_DtTm,
	sched.Edit_DtTm AS Appt_Changed_DtTm,
	-- what the queue browser saw: Past rows only
	queued.QueLoc AS Actual_Location,
	queued.Arrived AS CheckIn_Tm,
	queued.TransItem AS Infusion_Start_Tm,
	queued.Complete_time AS Infusion_Stop_Tm
FROM feed
JOIN sched ON sched.Sch_Id = feed.Sch_Id
LEFT JOIN queued ON feed.Rec_Type = 'Past' AND queued.Sch_Id = feed.Sch_Id
ORDER BY Appt_DtTm, Internal_Patient_ID, Rec_Type DESC, Appt_Type,
	Scheduled_Location, Actual_Location, CheckIn_Tm;

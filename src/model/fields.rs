//! Standard names of HL7 v2 segments and their fields, for human-readable
//! output such as `hl7 parse --to table` (`PID-5  Patient Name  DOE^JOHN`).
//!
//! Names are those of HL7 v2.5.1 (as used by hl7apy's v2.5/v2.5.1 definitions
//! and the standard's field tables), in the standard's title case. Fields added
//! to a segment after v2.5.1 (e.g. MSH-22..MSH-25, NTE-5..NTE-8, OBX-26) are
//! appended with their later-version (v2.6/v2.7) names, since positions are
//! never reused between versions. Fields withdrawn in later versions keep their
//! v2.5.1 names. Z-segments and segments not listed here have no names.
//!
//! MSH, FHS and BHS count the field separator itself as field 1 and the
//! encoding characters as field 2, as the standard does.

/// Standard name of a segment, e.g. `"PID"` -> `"Patient Identification"`.
/// `None` for unknown and Z-segments.
pub fn segment_name(segment: &str) -> Option<&'static str> {
    Some(match segment {
        "MSH" => "Message Header",
        "EVN" => "Event Type",
        "PID" => "Patient Identification",
        "PD1" => "Patient Additional Demographic",
        "NK1" => "Next of Kin / Associated Parties",
        "PV1" => "Patient Visit",
        "PV2" => "Patient Visit - Additional Information",
        "ORC" => "Common Order",
        "OBR" => "Observation Request",
        "OBX" => "Observation/Result",
        "NTE" => "Notes and Comments",
        "MSA" => "Message Acknowledgment",
        "ERR" => "Error",
        "MRG" => "Merge Patient Information",
        "TXA" => "Transcription Document Header",
        "SPM" => "Specimen",
        "FHS" => "File Header",
        "BHS" => "Batch Header",
        "BTS" => "Batch Trailer",
        "FTS" => "File Trailer",
        "SFT" => "Software Segment",
        "AL1" => "Patient Allergy Information",
        "DG1" => "Diagnosis",
        "IN1" => "Insurance",
        "GT1" => "Guarantor",
        "TQ1" => "Timing/Quantity",
        "RXA" => "Pharmacy/Treatment Administration",
        "RXR" => "Pharmacy/Treatment Route",
        "SCH" => "Scheduling Activity Information",
        "AIS" => "Appointment Information",
        "QPD" => "Query Parameter Definition",
        "QRD" => "Original-Style Query Definition",
        "QAK" => "Query Acknowledgment",
        "PR1" => "Procedures",
        "FT1" => "Financial Transaction",
        "ROL" => "Role",
        _ => return None,
    })
}

/// Standard name of field `field` (1-based) of `segment`, e.g. `("PID", 5)` ->
/// `"Patient Name"`. `None` when the segment or the field is unknown, and for
/// field 0.
pub fn field_name(segment: &str, field: usize) -> Option<&'static str> {
    let index = field.checked_sub(1)?;
    fields(segment)?.get(index).copied()
}

/// All field names of `segment`, index = field number - 1.
fn fields(segment: &str) -> Option<&'static [&'static str]> {
    Some(match segment {
        "MSH" => MSH,
        "EVN" => EVN,
        "PID" => PID,
        "PD1" => PD1,
        "NK1" => NK1,
        "PV1" => PV1,
        "PV2" => PV2,
        "ORC" => ORC,
        "OBR" => OBR,
        "OBX" => OBX,
        "NTE" => NTE,
        "MSA" => MSA,
        "ERR" => ERR,
        "MRG" => MRG,
        "TXA" => TXA,
        "SPM" => SPM,
        "FHS" => FHS,
        "BHS" => BHS,
        "BTS" => BTS,
        "FTS" => FTS,
        "SFT" => SFT,
        "AL1" => AL1,
        "DG1" => DG1,
        "IN1" => IN1,
        "GT1" => GT1,
        "TQ1" => TQ1,
        "RXA" => RXA,
        "RXR" => RXR,
        "SCH" => SCH,
        "AIS" => AIS,
        "QPD" => QPD,
        "QRD" => QRD,
        "QAK" => QAK,
        "PR1" => PR1,
        "FT1" => FT1,
        "ROL" => ROL,
        _ => return None,
    })
}

/// MSH — Message Header.
const MSH: &[&str] = &[
    "Field Separator",
    "Encoding Characters",
    "Sending Application",
    "Sending Facility",
    "Receiving Application",
    "Receiving Facility",
    "Date/Time of Message",
    "Security",
    "Message Type",
    "Message Control ID",
    "Processing ID",
    "Version ID",
    "Sequence Number",
    "Continuation Pointer",
    "Accept Acknowledgment Type",
    "Application Acknowledgment Type",
    "Country Code",
    "Character Set",
    "Principal Language of Message",
    "Alternate Character Set Handling Scheme",
    "Message Profile Identifier",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Sending Responsible Organization",
    "Receiving Responsible Organization",
    "Sending Network Address",
    "Receiving Network Address",
];

/// EVN — Event Type.
const EVN: &[&str] = &[
    "Event Type Code",
    "Recorded Date/Time",
    "Date/Time Planned Event",
    "Event Reason Code",
    "Operator ID",
    "Event Occurred",
    "Event Facility",
];

/// PID — Patient Identification.
const PID: &[&str] = &[
    "Set ID - PID",
    "Patient ID",
    "Patient Identifier List",
    "Alternate Patient ID - PID",
    "Patient Name",
    "Mother's Maiden Name",
    "Date/Time of Birth",
    "Administrative Sex",
    "Patient Alias",
    "Race",
    "Patient Address",
    "County Code",
    "Phone Number - Home",
    "Phone Number - Business",
    "Primary Language",
    "Marital Status",
    "Religion",
    "Patient Account Number",
    "SSN Number - Patient",
    "Driver's License Number - Patient",
    "Mother's Identifier",
    "Ethnic Group",
    "Birth Place",
    "Multiple Birth Indicator",
    "Birth Order",
    "Citizenship",
    "Veterans Military Status",
    "Nationality",
    "Patient Death Date and Time",
    "Patient Death Indicator",
    "Identity Unknown Indicator",
    "Identity Reliability Code",
    "Last Update Date/Time",
    "Last Update Facility",
    "Species Code",
    "Breed Code",
    "Strain",
    "Production Class Code",
    "Tribal Citizenship",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Patient Telecommunication Information",
];

/// PD1 — Patient Additional Demographic.
const PD1: &[&str] = &[
    "Living Dependency",
    "Living Arrangement",
    "Patient Primary Facility",
    "Patient Primary Care Provider Name & ID No.",
    "Student Indicator",
    "Handicap",
    "Living Will Code",
    "Organ Donor Code",
    "Separate Bill",
    "Duplicate Patient",
    "Publicity Code",
    "Protection Indicator",
    "Protection Indicator Effective Date",
    "Place of Worship",
    "Advance Directive Code",
    "Immunization Registry Status",
    "Immunization Registry Status Effective Date",
    "Publicity Code Effective Date",
    "Military Branch",
    "Military Rank/Grade",
    "Military Status",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Advance Directive Last Verified Date",
];

/// NK1 — Next of Kin / Associated Parties.
const NK1: &[&str] = &[
    "Set ID - NK1",
    "Name",
    "Relationship",
    "Address",
    "Phone Number",
    "Business Phone Number",
    "Contact Role",
    "Start Date",
    "End Date",
    "Next of Kin / Associated Parties Job Title",
    "Next of Kin / Associated Parties Job Code/Class",
    "Next of Kin / Associated Parties Employee Number",
    "Organization Name - NK1",
    "Marital Status",
    "Administrative Sex",
    "Date/Time of Birth",
    "Living Dependency",
    "Ambulatory Status",
    "Citizenship",
    "Primary Language",
    "Living Arrangement",
    "Publicity Code",
    "Protection Indicator",
    "Student Indicator",
    "Religion",
    "Mother's Maiden Name",
    "Nationality",
    "Ethnic Group",
    "Contact Reason",
    "Contact Person's Name",
    "Contact Person's Telephone Number",
    "Contact Person's Address",
    "Next of Kin/Associated Party's Identifiers",
    "Job Status",
    "Race",
    "Handicap",
    "Contact Person Social Security Number",
    "Next of Kin Birth Place",
    "VIP Indicator",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Next of Kin Telecommunication Information",
    "Contact Person's Telecommunication Information",
];

/// PV1 — Patient Visit.
const PV1: &[&str] = &[
    "Set ID - PV1",
    "Patient Class",
    "Assigned Patient Location",
    "Admission Type",
    "Preadmit Number",
    "Prior Patient Location",
    "Attending Doctor",
    "Referring Doctor",
    "Consulting Doctor",
    "Hospital Service",
    "Temporary Location",
    "Preadmit Test Indicator",
    "Re-admission Indicator",
    "Admit Source",
    "Ambulatory Status",
    "VIP Indicator",
    "Admitting Doctor",
    "Patient Type",
    "Visit Number",
    "Financial Class",
    "Charge Price Indicator",
    "Courtesy Code",
    "Credit Rating",
    "Contract Code",
    "Contract Effective Date",
    "Contract Amount",
    "Contract Period",
    "Interest Code",
    "Transfer to Bad Debt Code",
    "Transfer to Bad Debt Date",
    "Bad Debt Agency Code",
    "Bad Debt Transfer Amount",
    "Bad Debt Recovery Amount",
    "Delete Account Indicator",
    "Delete Account Date",
    "Discharge Disposition",
    "Discharged to Location",
    "Diet Type",
    "Servicing Facility",
    "Bed Status",
    "Account Status",
    "Pending Location",
    "Prior Temporary Location",
    "Admit Date/Time",
    "Discharge Date/Time",
    "Current Patient Balance",
    "Total Charges",
    "Total Adjustments",
    "Total Payments",
    "Alternate Visit ID",
    "Visit Indicator",
    "Other Healthcare Provider",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Service Episode Description",
    "Service Episode Identifier",
];

/// PV2 — Patient Visit - Additional Information.
const PV2: &[&str] = &[
    "Prior Pending Location",
    "Accommodation Code",
    "Admit Reason",
    "Transfer Reason",
    "Patient Valuables",
    "Patient Valuables Location",
    "Visit User Code",
    "Expected Admit Date/Time",
    "Expected Discharge Date/Time",
    "Estimated Length of Inpatient Stay",
    "Actual Length of Inpatient Stay",
    "Visit Description",
    "Referral Source Code",
    "Previous Service Date",
    "Employment Illness Related Indicator",
    "Purge Status Code",
    "Purge Status Date",
    "Special Program Code",
    "Retention Indicator",
    "Expected Number of Insurance Plans",
    "Visit Publicity Code",
    "Visit Protection Indicator",
    "Clinic Organization Name",
    "Patient Status Code",
    "Visit Priority Code",
    "Previous Treatment Date",
    "Expected Discharge Disposition",
    "Signature on File Date",
    "First Similar Illness Date",
    "Patient Charge Adjustment Code",
    "Recurring Service Code",
    "Billing Media Code",
    "Expected Surgery Date and Time",
    "Military Partnership Code",
    "Military Non-Availability Code",
    "Newborn Baby Indicator",
    "Baby Detained Indicator",
    "Mode of Arrival Code",
    "Recreational Drug Use Code",
    "Admission Level of Care Code",
    "Precaution Code",
    "Patient Condition Code",
    "Living Will Code",
    "Organ Donor Code",
    "Advance Directive Code",
    "Patient Status Effective Date",
    "Expected LOA Return Date/Time",
    "Expected Pre-admission Testing Date/Time",
    "Notify Clergy Code",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Advance Directive Last Verified Date",
];

/// ORC — Common Order.
const ORC: &[&str] = &[
    "Order Control",
    "Placer Order Number",
    "Filler Order Number",
    "Placer Group Number",
    "Order Status",
    "Response Flag",
    "Quantity/Timing",
    "Parent",
    "Date/Time of Transaction",
    "Entered By",
    "Verified By",
    "Ordering Provider",
    "Enterer's Location",
    "Call Back Phone Number",
    "Order Effective Date/Time",
    "Order Control Code Reason",
    "Entering Organization",
    "Entering Device",
    "Action By",
    "Advanced Beneficiary Notice Code",
    "Ordering Facility Name",
    "Ordering Facility Address",
    "Ordering Facility Phone Number",
    "Ordering Provider Address",
    "Order Status Modifier",
    "Advanced Beneficiary Notice Override Reason",
    "Filler's Expected Availability Date/Time",
    "Confidentiality Code",
    "Order Type",
    "Enterer Authorization Mode",
    "Parent Universal Service Identifier",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Advanced Beneficiary Notice Date",
    "Alternate Placer Order Number",
];

/// OBR — Observation Request.
const OBR: &[&str] = &[
    "Set ID - OBR",
    "Placer Order Number",
    "Filler Order Number",
    "Universal Service Identifier",
    "Priority - OBR",
    "Requested Date/Time",
    "Observation Date/Time",
    "Observation End Date/Time",
    "Collection Volume",
    "Collector Identifier",
    "Specimen Action Code",
    "Danger Code",
    "Relevant Clinical Information",
    "Specimen Received Date/Time",
    "Specimen Source",
    "Ordering Provider",
    "Order Callback Phone Number",
    "Placer Field 1",
    "Placer Field 2",
    "Filler Field 1",
    "Filler Field 2",
    "Results Rpt/Status Chng - Date/Time",
    "Charge to Practice",
    "Diagnostic Serv Sect ID",
    "Result Status",
    "Parent Result",
    "Quantity/Timing",
    "Result Copies to",
    "Parent",
    "Transportation Mode",
    "Reason for Study",
    "Principal Result Interpreter",
    "Assistant Result Interpreter",
    "Technician",
    "Transcriptionist",
    "Scheduled Date/Time",
    "Number of Sample Containers",
    "Transport Logistics of Collected Sample",
    "Collector's Comment",
    "Transport Arrangement Responsibility",
    "Transport Arranged",
    "Escort Required",
    "Planned Patient Transport Comment",
    "Procedure Code",
    "Procedure Code Modifier",
    "Placer Supplemental Service Information",
    "Filler Supplemental Service Information",
    "Medically Necessary Duplicate Procedure Reason",
    "Result Handling",
    "Parent Universal Service Identifier",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Observation Group ID",
    "Parent Observation Group ID",
    "Alternate Placer Order Number",
    "Parent Order",
];

/// OBX — Observation/Result.
const OBX: &[&str] = &[
    "Set ID - OBX",
    "Value Type",
    "Observation Identifier",
    "Observation Sub-ID",
    "Observation Value",
    "Units",
    "References Range",
    "Abnormal Flags",
    "Probability",
    "Nature of Abnormal Test",
    "Observation Result Status",
    "Effective Date of Reference Range",
    "User Defined Access Checks",
    "Date/Time of the Observation",
    "Producer's ID",
    "Responsible Observer",
    "Observation Method",
    "Equipment Instance Identifier",
    "Date/Time of the Analysis",
    // OBX-20..22 were reserved for harmonization in v2.5.1; names from v2.6+.
    "Observation Site",
    "Observation Instance Identifier",
    "Mood Code",
    "Performing Organization Name",
    "Performing Organization Address",
    "Performing Organization Medical Director",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Patient Results Release Category",
];

/// NTE — Notes and Comments.
const NTE: &[&str] = &[
    "Set ID - NTE",
    "Source of Comment",
    "Comment",
    "Comment Type",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Entered By",
    "Entered Date/Time",
    "Effective Start Date",
    "Expiration Date",
];

/// MSA — Message Acknowledgment.
const MSA: &[&str] = &[
    "Acknowledgment Code",
    "Message Control ID",
    "Text Message",
    "Expected Sequence Number",
    "Delayed Acknowledgment Type",
    "Error Condition",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Message Waiting Number",
    "Message Waiting Priority",
];

/// ERR — Error.
const ERR: &[&str] = &[
    "Error Code and Location",
    "Error Location",
    "HL7 Error Code",
    "Severity",
    "Application Error Code",
    "Application Error Parameter",
    "Diagnostic Information",
    "User Message",
    "Inform Person Indicator",
    "Override Type",
    "Override Reason Code",
    "Help Desk Contact Point",
];

/// MRG — Merge Patient Information.
const MRG: &[&str] = &[
    "Prior Patient Identifier List",
    "Prior Alternate Patient ID",
    "Prior Patient Account Number",
    "Prior Patient ID",
    "Prior Visit Number",
    "Prior Alternate Visit ID",
    "Prior Patient Name",
];

/// TXA — Transcription Document Header.
const TXA: &[&str] = &[
    "Set ID - TXA",
    "Document Type",
    "Document Content Presentation",
    "Activity Date/Time",
    "Primary Activity Provider Code/Name",
    "Origination Date/Time",
    "Transcription Date/Time",
    "Edit Date/Time",
    "Originator Code/Name",
    "Assigned Document Authenticator",
    "Transcriptionist Code/Name",
    "Unique Document Number",
    "Parent Document Number",
    "Placer Order Number",
    "Filler Order Number",
    "Unique Document File Name",
    "Document Completion Status",
    "Document Confidentiality Status",
    "Document Availability Status",
    "Document Storage Status",
    "Document Change Reason",
    "Authentication Person, Time Stamp",
    "Distributed Copies (Code and Name of Recipients)",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Folder Assignment",
    "Document Title",
    "Agreed Due Date/Time",
];

/// SPM — Specimen.
const SPM: &[&str] = &[
    "Set ID - SPM",
    "Specimen ID",
    "Specimen Parent IDs",
    "Specimen Type",
    "Specimen Type Modifier",
    "Specimen Additives",
    "Specimen Collection Method",
    "Specimen Source Site",
    "Specimen Source Site Modifier",
    "Specimen Collection Site",
    "Specimen Role",
    "Specimen Collection Amount",
    "Grouped Specimen Count",
    "Specimen Description",
    "Specimen Handling Code",
    "Specimen Risk Code",
    "Specimen Collection Date/Time",
    "Specimen Received Date/Time",
    "Specimen Expiration Date/Time",
    "Specimen Availability",
    "Specimen Reject Reason",
    "Specimen Quality",
    "Specimen Appropriateness",
    "Specimen Condition",
    "Specimen Current Quantity",
    "Number of Specimen Containers",
    "Container Type",
    "Container Condition",
    "Specimen Child Role",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Accession ID",
    "Other Specimen ID",
    "Shipment ID",
];

/// FHS — File Header.
const FHS: &[&str] = &[
    "File Field Separator",
    "File Encoding Characters",
    "File Sending Application",
    "File Sending Facility",
    "File Receiving Application",
    "File Receiving Facility",
    "File Creation Date/Time",
    "File Security",
    "File Name/ID",
    "File Header Comment",
    "File Control ID",
    "Reference File Control ID",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "File Sending Network Address",
    "File Receiving Network Address",
];

/// BHS — Batch Header.
const BHS: &[&str] = &[
    "Batch Field Separator",
    "Batch Encoding Characters",
    "Batch Sending Application",
    "Batch Sending Facility",
    "Batch Receiving Application",
    "Batch Receiving Facility",
    "Batch Creation Date/Time",
    "Batch Security",
    "Batch Name/ID/Type",
    "Batch Comment",
    "Batch Control ID",
    "Reference Batch Control ID",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Batch Sending Network Address",
    "Batch Receiving Network Address",
];

/// BTS — Batch Trailer.
const BTS: &[&str] = &["Batch Message Count", "Batch Comment", "Batch Totals"];

/// FTS — File Trailer.
const FTS: &[&str] = &["File Batch Count", "File Trailer Comment"];

/// SFT — Software Segment.
const SFT: &[&str] = &[
    "Software Vendor Organization",
    "Software Certified Version or Release Number",
    "Software Product Name",
    "Software Binary ID",
    "Software Product Information",
    "Software Install Date",
];

/// AL1 — Patient Allergy Information.
const AL1: &[&str] = &[
    "Set ID - AL1",
    "Allergen Type Code",
    "Allergen Code/Mnemonic/Description",
    "Allergy Severity Code",
    "Allergy Reaction Code",
    "Identification Date",
];

/// DG1 — Diagnosis.
const DG1: &[&str] = &[
    "Set ID - DG1",
    "Diagnosis Coding Method",
    "Diagnosis Code - DG1",
    "Diagnosis Description",
    "Diagnosis Date/Time",
    "Diagnosis Type",
    "Major Diagnostic Category",
    "Diagnostic Related Group",
    "DRG Approval Indicator",
    "DRG Grouper Review Code",
    "Outlier Type",
    "Outlier Days",
    "Outlier Cost",
    "Grouper Version and Type",
    "Diagnosis Priority",
    "Diagnosing Clinician",
    "Diagnosis Classification",
    "Confidential Indicator",
    "Attestation Date/Time",
    "Diagnosis Identifier",
    "Diagnosis Action Code",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Parent Diagnosis",
    "DRG CCL Value Code",
    "DRG Grouping Usage",
    "DRG Diagnosis Determination Status",
    "Present On Admission (POA) Indicator",
];

/// IN1 — Insurance.
const IN1: &[&str] = &[
    "Set ID - IN1",
    "Insurance Plan ID",
    "Insurance Company ID",
    "Insurance Company Name",
    "Insurance Company Address",
    "Insurance Co Contact Person",
    "Insurance Co Phone Number",
    "Group Number",
    "Group Name",
    "Insured's Group Emp ID",
    "Insured's Group Emp Name",
    "Plan Effective Date",
    "Plan Expiration Date",
    "Authorization Information",
    "Plan Type",
    "Name of Insured",
    "Insured's Relationship to Patient",
    "Insured's Date of Birth",
    "Insured's Address",
    "Assignment of Benefits",
    "Coordination of Benefits",
    "Coord of Ben. Priority",
    "Notice of Admission Flag",
    "Notice of Admission Date",
    "Report of Eligibility Flag",
    "Report of Eligibility Date",
    "Release Information Code",
    "Pre-Admit Cert (PAC)",
    "Verification Date/Time",
    "Verification By",
    "Type of Agreement Code",
    "Billing Status",
    "Lifetime Reserve Days",
    "Delay Before L.R. Day",
    "Company Plan Code",
    "Policy Number",
    "Policy Deductible",
    "Policy Limit - Amount",
    "Policy Limit - Days",
    "Room Rate - Semi-Private",
    "Room Rate - Private",
    "Insured's Employment Status",
    "Insured's Administrative Sex",
    "Insured's Employer's Address",
    "Verification Status",
    "Prior Insurance Plan ID",
    "Coverage Type",
    "Handicap",
    "Insured's ID Number",
    "Signature Code",
    "Signature Code Date",
    "Insured's Birth Place",
    "VIP Indicator",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "External Health Plan Identifiers",
];

/// GT1 — Guarantor.
const GT1: &[&str] = &[
    "Set ID - GT1",
    "Guarantor Number",
    "Guarantor Name",
    "Guarantor Spouse Name",
    "Guarantor Address",
    "Guarantor Ph Num - Home",
    "Guarantor Ph Num - Business",
    "Guarantor Date/Time of Birth",
    "Guarantor Administrative Sex",
    "Guarantor Type",
    "Guarantor Relationship",
    "Guarantor SSN",
    "Guarantor Date - Begin",
    "Guarantor Date - End",
    "Guarantor Priority",
    "Guarantor Employer Name",
    "Guarantor Employer Address",
    "Guarantor Employer Phone Number",
    "Guarantor Employee ID Number",
    "Guarantor Employment Status",
    "Guarantor Organization Name",
    "Guarantor Billing Hold Flag",
    "Guarantor Credit Rating Code",
    "Guarantor Death Date and Time",
    "Guarantor Death Flag",
    "Guarantor Charge Adjustment Code",
    "Guarantor Household Annual Income",
    "Guarantor Household Size",
    "Guarantor Employer ID Number",
    "Guarantor Marital Status Code",
    "Guarantor Hire Effective Date",
    "Employment Stop Date",
    "Living Dependency",
    "Ambulatory Status",
    "Citizenship",
    "Primary Language",
    "Living Arrangement",
    "Publicity Code",
    "Protection Indicator",
    "Student Indicator",
    "Religion",
    "Mother's Maiden Name",
    "Nationality",
    "Ethnic Group",
    "Contact Person's Name",
    "Contact Person's Telephone Number",
    "Contact Reason",
    "Contact Relationship",
    "Job Title",
    "Job Code/Class",
    "Guarantor Employer's Organization Name",
    "Handicap",
    "Job Status",
    "Guarantor Financial Class",
    "Guarantor Race",
    "Guarantor Birth Place",
    "VIP Indicator",
];

/// TQ1 — Timing/Quantity.
const TQ1: &[&str] = &[
    "Set ID - TQ1",
    "Quantity",
    "Repeat Pattern",
    "Explicit Time",
    "Relative Time and Units",
    "Service Duration",
    "Start Date/Time",
    "End Date/Time",
    "Priority",
    "Condition Text",
    "Text Instruction",
    "Conjunction",
    "Occurrence Duration",
    "Total Occurrence's",
];

/// RXA — Pharmacy/Treatment Administration.
const RXA: &[&str] = &[
    "Give Sub-ID Counter",
    "Administration Sub-ID Counter",
    "Date/Time Start of Administration",
    "Date/Time End of Administration",
    "Administered Code",
    "Administered Amount",
    "Administered Units",
    "Administered Dosage Form",
    "Administration Notes",
    "Administering Provider",
    "Administered-at Location",
    "Administered Per (Time Unit)",
    "Administered Strength",
    "Administered Strength Units",
    "Substance Lot Number",
    "Substance Expiration Date",
    "Substance Manufacturer Name",
    "Substance/Treatment Refusal Reason",
    "Indication",
    "Completion Status",
    "Action Code - RXA",
    "System Entry Date/Time",
    "Administered Drug Strength Volume",
    "Administered Drug Strength Volume Units",
    "Administered Barcode Identifier",
    "Pharmacy Order Type",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Administer-at",
    "Administered-at Address",
];

/// RXR — Pharmacy/Treatment Route.
const RXR: &[&str] = &[
    "Route",
    "Administration Site",
    "Administration Device",
    "Administration Method",
    "Routing Instruction",
    "Administration Site Modifier",
];

/// SCH — Scheduling Activity Information.
const SCH: &[&str] = &[
    "Placer Appointment ID",
    "Filler Appointment ID",
    "Occurrence Number",
    "Placer Group Number",
    "Schedule ID",
    "Event Reason",
    "Appointment Reason",
    "Appointment Type",
    "Appointment Duration",
    "Appointment Duration Units",
    "Appointment Timing Quantity",
    "Placer Contact Person",
    "Placer Contact Phone Number",
    "Placer Contact Address",
    "Placer Contact Location",
    "Filler Contact Person",
    "Filler Contact Phone Number",
    "Filler Contact Address",
    "Filler Contact Location",
    "Entered By Person",
    "Entered By Phone Number",
    "Entered By Location",
    "Parent Placer Appointment ID",
    "Parent Filler Appointment ID",
    "Filler Status Code",
    "Placer Order Number",
    "Filler Order Number",
];

/// AIS — Appointment Information.
const AIS: &[&str] = &[
    "Set ID - AIS",
    "Segment Action Code",
    "Universal Service Identifier",
    "Start Date/Time",
    "Start Date/Time Offset",
    "Start Date/Time Offset Units",
    "Duration",
    "Duration Units",
    "Allow Substitution Code",
    "Filler Status Code",
    "Placer Supplemental Service Information",
    "Filler Supplemental Service Information",
];

/// QPD — Query Parameter Definition.
const QPD: &[&str] = &[
    "Message Query Name",
    "Query Tag",
    "User Parameters (in successive fields)",
];

/// QRD — Original-Style Query Definition.
const QRD: &[&str] = &[
    "Query Date/Time",
    "Query Format Code",
    "Query Priority",
    "Query ID",
    "Deferred Response Type",
    "Deferred Response Date/Time",
    "Quantity Limited Request",
    "Who Subject Filter",
    "What Subject Filter",
    "What Department Data Code",
    "What Data Code Value Qual.",
    "Query Results Level",
];

/// QAK — Query Acknowledgment.
const QAK: &[&str] = &[
    "Query Tag",
    "Query Response Status",
    "Message Query Name",
    "Hit Count",
    "This Payload",
    "Hits Remaining",
];

/// PR1 — Procedures.
const PR1: &[&str] = &[
    "Set ID - PR1",
    "Procedure Coding Method",
    "Procedure Code",
    "Procedure Description",
    "Procedure Date/Time",
    "Procedure Functional Type",
    "Procedure Minutes",
    "Anesthesiologist",
    "Anesthesia Code",
    "Anesthesia Minutes",
    "Surgeon",
    "Procedure Practitioner",
    "Consent Code",
    "Procedure Priority",
    "Associated Diagnosis Code",
    "Procedure Code Modifier",
    "Procedure DRG Type",
    "Tissue Type Code",
    "Procedure Identifier",
    "Procedure Action Code",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "DRG Procedure Determination Status",
    "DRG Procedure Relevance",
    "Treating Organizational Unit",
    "Respiratory Within Surgery",
    "Parent Procedure ID",
];

/// FT1 — Financial Transaction.
const FT1: &[&str] = &[
    "Set ID - FT1",
    "Transaction ID",
    "Transaction Batch ID",
    "Transaction Date",
    "Transaction Posting Date",
    "Transaction Type",
    "Transaction Code",
    "Transaction Description",
    "Transaction Description - Alt",
    "Transaction Quantity",
    "Transaction Amount - Extended",
    "Transaction Amount - Unit",
    "Department Code",
    "Insurance Plan ID",
    "Insurance Amount",
    "Assigned Patient Location",
    "Fee Schedule",
    "Patient Type",
    "Diagnosis Code - FT1",
    "Performed By Code",
    "Ordered By Code",
    "Unit Cost",
    "Filler Order Number",
    "Entered By Code",
    "Procedure Code",
    "Procedure Code Modifier",
    "Advanced Beneficiary Notice Code",
    "Medically Necessary Duplicate Procedure Reason",
    "NDC Code",
    "Payment Reference ID",
    "Transaction Reference Key",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Performing Facility",
    "Ordering Facility",
    "Item Number",
    "Model Number",
    "Special Processing Code",
    "Clinic Code",
    "Referral Number",
    "Authorization Number",
    "Service Provider Taxonomy Code",
    "Revenue Code",
    "Prescription Number",
    "NDC Qty and UOM",
];

/// ROL — Role.
const ROL: &[&str] = &[
    "Role Instance ID",
    "Action Code",
    "Role-ROL",
    "Role Person",
    "Role Begin Date/Time",
    "Role End Date/Time",
    "Role Duration",
    "Role Action Reason",
    "Provider Type",
    "Organization Unit Type",
    "Office/Home Address/Birthplace",
    "Phone",
    // Added after v2.5.1 (names as of v2.7/v2.8).
    "Person's Location",
    "Organization",
];
#[cfg(test)]
mod tests {
    use super::*;

    /// Segments with field names and the number of fields named for each
    /// (v2.5.1 count, plus fields added in later versions where noted).
    const COUNTS: &[(&str, usize)] = &[
        ("MSH", 25), // 21 in v2.5.1 + MSH-22..25 (v2.7)
        ("EVN", 7),
        ("PID", 40), // 39 + PID-40 (v2.7)
        ("PD1", 22), // 21 + PD1-22
        ("NK1", 41), // 39 + NK1-40..41
        ("PV1", 54), // 52 + PV1-53..54
        ("PV2", 50), // 49 + PV2-50
        ("ORC", 33), // 31 + ORC-32..33
        ("OBR", 54), // 50 + OBR-51..54
        ("OBX", 26), // 25 + OBX-26
        ("NTE", 8),  // 4 + NTE-5..8
        ("MSA", 8),  // 6 + MSA-7..8
        ("ERR", 12),
        ("MRG", 7),
        ("TXA", 26), // 23 + TXA-24..26
        ("SPM", 32), // 29 + SPM-30..32
        ("FHS", 14), // 12 + FHS-13..14
        ("BHS", 14), // 12 + BHS-13..14
        ("BTS", 3),
        ("FTS", 2),
        ("SFT", 6),
        ("AL1", 6),
        ("DG1", 26), // 21 + DG1-22..26
        ("IN1", 54), // 53 + IN1-54
        ("GT1", 57),
        ("TQ1", 14),
        ("RXA", 28), // 26 + RXA-27..28
        ("RXR", 6),
        ("SCH", 27),
        ("AIS", 12),
        ("QPD", 3),
        ("QRD", 12),
        ("QAK", 6),
        ("PR1", 25), // 20 + PR1-21..25
        ("FT1", 43), // 31 + FT1-32..43
        ("ROL", 14), // 12 + ROL-13..14
    ];

    #[test]
    fn msh_fields() {
        assert_eq!(field_name("MSH", 1), Some("Field Separator"));
        assert_eq!(field_name("MSH", 2), Some("Encoding Characters"));
        assert_eq!(field_name("MSH", 3), Some("Sending Application"));
        assert_eq!(field_name("MSH", 7), Some("Date/Time of Message"));
        assert_eq!(field_name("MSH", 9), Some("Message Type"));
        assert_eq!(field_name("MSH", 10), Some("Message Control ID"));
        assert_eq!(field_name("MSH", 12), Some("Version ID"));
        assert_eq!(field_name("MSH", 21), Some("Message Profile Identifier"));
        assert_eq!(
            field_name("MSH", 22),
            Some("Sending Responsible Organization")
        );
        assert_eq!(
            field_name("MSH", 23),
            Some("Receiving Responsible Organization")
        );
        assert_eq!(field_name("MSH", 24), Some("Sending Network Address"));
        assert_eq!(field_name("MSH", 25), Some("Receiving Network Address"));
    }

    #[test]
    fn batch_and_file_headers_number_like_msh() {
        assert_eq!(field_name("FHS", 1), Some("File Field Separator"));
        assert_eq!(field_name("FHS", 2), Some("File Encoding Characters"));
        assert_eq!(field_name("FHS", 3), Some("File Sending Application"));
        assert_eq!(field_name("BHS", 1), Some("Batch Field Separator"));
        assert_eq!(field_name("BHS", 2), Some("Batch Encoding Characters"));
        assert_eq!(field_name("BHS", 11), Some("Batch Control ID"));
    }

    #[test]
    fn common_fields() {
        assert_eq!(field_name("PID", 3), Some("Patient Identifier List"));
        assert_eq!(field_name("PID", 5), Some("Patient Name"));
        assert_eq!(field_name("PID", 7), Some("Date/Time of Birth"));
        assert_eq!(field_name("PID", 8), Some("Administrative Sex"));
        assert_eq!(field_name("OBX", 3), Some("Observation Identifier"));
        assert_eq!(field_name("OBX", 5), Some("Observation Value"));
        assert_eq!(field_name("OBX", 11), Some("Observation Result Status"));
        assert_eq!(field_name("OBX", 20), Some("Observation Site"));
        assert_eq!(
            field_name("OBX", 25),
            Some("Performing Organization Medical Director")
        );
        assert_eq!(field_name("OBR", 4), Some("Universal Service Identifier"));
        assert_eq!(field_name("ORC", 1), Some("Order Control"));
        assert_eq!(field_name("MSA", 1), Some("Acknowledgment Code"));
        assert_eq!(field_name("MSA", 2), Some("Message Control ID"));
        assert_eq!(field_name("ERR", 3), Some("HL7 Error Code"));
        assert_eq!(field_name("PV1", 2), Some("Patient Class"));
        assert_eq!(field_name("EVN", 1), Some("Event Type Code"));
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_name("PID"), Some("Patient Identification"));
        assert_eq!(segment_name("MSH"), Some("Message Header"));
        assert_eq!(segment_name("OBX"), Some("Observation/Result"));
        assert_eq!(segment_name("ZXY"), None);
        assert_eq!(segment_name(""), None);
        assert_eq!(segment_name("pid"), None);
    }

    #[test]
    fn out_of_range_and_unknown() {
        assert_eq!(field_name("PID", 0), None);
        assert_eq!(field_name("MSH", 0), None);
        assert_eq!(field_name("PID", 41), None);
        assert_eq!(field_name("MSH", 26), None);
        assert_eq!(field_name("OBX", 1000), None);
        assert_eq!(field_name("ZXY", 1), None);
        assert_eq!(field_name("", 1), None);
    }

    #[test]
    fn field_counts() {
        for &(segment, count) in COUNTS {
            let names = fields(segment).unwrap_or_else(|| panic!("{segment} has no fields"));
            assert_eq!(names.len(), count, "{segment}");
            assert!(field_name(segment, count).is_some(), "{segment}-{count}");
            assert_eq!(
                field_name(segment, count + 1),
                None,
                "{segment}-{}",
                count + 1
            );
            assert!(segment_name(segment).is_some(), "{segment} has no name");
        }
    }

    #[test]
    fn names_are_clean() {
        for &(segment, _) in COUNTS {
            for (i, name) in fields(segment).unwrap().iter().enumerate() {
                assert!(!name.is_empty(), "{segment}-{}", i + 1);
                assert_eq!(name.trim(), *name, "{segment}-{}", i + 1);
                assert!(
                    name.starts_with(|c: char| c.is_ascii_uppercase()),
                    "{segment}-{}: {name}",
                    i + 1
                );
            }
        }
    }
}

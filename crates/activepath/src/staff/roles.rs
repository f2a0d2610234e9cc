//! Who may do what. Every permission check in the portal and the staff API
//! goes through [`allows`]: one table, deny by default.

pub use crate::storage::staff::Role;
use crate::storage::staff::StaffUser;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// The triage queue: priorities, scores, ages.
    SeeQueue,
    /// A case: the result as the person saw it, their contact details and
    /// the case's timeline.
    SeeCase,
    /// Take a case, add notes, record contact attempts, close and reopen.
    WorkCases,
    /// Patient records: details and self-assessments (not clinical notes).
    SeePatients,
    /// Make patient records and link cases to them.
    EditPatients,
    /// Read and write a patient's clinical notes.
    ClinicalNotes,
    /// Staff accounts.
    ManageAccounts,
    /// The audit trail.
    SeeAudit,
    /// One's own API tokens.
    OwnTokens,
    /// The appointment calendar: when each chair, room and clinician is
    /// busy. Who is booked needs [`Permission::SeeWhoIsBooked`], or for a
    /// TMS session [`Permission::SeeCourses`].
    SeeSchedule,
    /// Who each booking is for: the person's name, contact details and
    /// reason, and the appointment's type.
    SeeWhoIsBooked,
    /// Book, move and cancel appointments for people.
    ManageSchedule,
    /// The mail delivery log: what went out, what is retrying, what failed
    /// for good (retry or dismiss it).
    SeeMailLog,
    /// The booking set-up: locations, resources, appointment types, hours
    /// and exceptions.
    SetUpBooking,
    /// The site's figures: page views and funnel counts (no personal data).
    SeeSiteFigures,
    /// TMS courses: their plan, status and treatment records.
    SeeCourses,
    /// Start a TMS course and change its plan.
    ManageCourses,
    /// Record treatment on a course: motor thresholds, sessions and
    /// check-ins (and send a check-in to the patient).
    RecordTreatment,
    /// Record a course's insurance authorizations.
    ManageAuthorizations,
    /// Read the protocol deviations recorded on a course's sessions
    /// (recording them is part of [`Permission::RecordTreatment`]).
    ReadDeviations,
    /// Record a patient's informed consent to a course. (The physician's
    /// order and the safety screen are a clinician's:
    /// [`Permission::ManageCourses`].)
    RecordConsent,
}

impl Permission {
    pub const ALL: [Permission; 21] = [
        Permission::SeeQueue,
        Permission::SeeCase,
        Permission::WorkCases,
        Permission::SeePatients,
        Permission::EditPatients,
        Permission::ClinicalNotes,
        Permission::ManageAccounts,
        Permission::SeeAudit,
        Permission::OwnTokens,
        Permission::SeeSchedule,
        Permission::SeeWhoIsBooked,
        Permission::ManageSchedule,
        Permission::SeeMailLog,
        Permission::SetUpBooking,
        Permission::SeeSiteFigures,
        Permission::SeeCourses,
        Permission::ManageCourses,
        Permission::RecordTreatment,
        Permission::ManageAuthorizations,
        Permission::ReadDeviations,
        Permission::RecordConsent,
    ];
}

/// Whether `role` has `permission`. Admins run the system and see no
/// health data; clinicians and coordinators work the queue, keep patient
/// records and the appointment calendar; only clinicians read and write
/// clinical notes; admins and coordinators watch mail delivery (it carries
/// confirmations to patients); technicians give TMS sessions: they see
/// courses and record treatment, and in the calendar the TMS sessions and
/// only "busy" for everything else, but read no clinical notes, cases,
/// patient records or other bookings' details and change no course's
/// plan. Protocol deviations are recorded by whoever gives the session and
/// read by clinicians only: they are a clinical judgement's input.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    matches!(
        (role, permission),
        (
            Clinician | Coordinator,
            SeeQueue
                | SeeCase
                | WorkCases
                | SeePatients
                | EditPatients
                | SeeSchedule
                | SeeWhoIsBooked
                | ManageSchedule
        ) | (Clinician, ClinicalNotes | ManageCourses | ReadDeviations)
            | (Clinician | Coordinator | Technician, SeeCourses)
            | (Clinician | Technician, RecordTreatment)
            | (
                Clinician | Coordinator,
                ManageAuthorizations | RecordConsent
            )
            | (Technician, SeeSchedule)
            | (
                Admin,
                ManageAccounts | SeeAudit | SeeMailLog | SetUpBooking | SeeSiteFigures
            )
            | (Coordinator, SeeMailLog | SetUpBooking)
            | (_, OwnTokens)
    )
}

impl Role {
    /// Whether the role reads health data of any kind (the queue, cases,
    /// patient records, TMS courses or the schedule's people).
    pub fn sees_health_data(self) -> bool {
        Permission::ALL
            .into_iter()
            .any(|p| p.reveals_health_data() && allows(self, p))
    }
}

impl Permission {
    /// Whether the permission shows or changes anyone's health data.
    fn reveals_health_data(self) -> bool {
        use Permission::*;
        match self {
            SeeQueue | SeeCase | WorkCases | SeePatients | EditPatients | ClinicalNotes
            | SeeSchedule | ManageSchedule | SeeCourses | ManageCourses | RecordTreatment
            | ManageAuthorizations | SeeWhoIsBooked | ReadDeviations | RecordConsent => true,
            ManageAccounts | SeeAudit | OwnTokens | SeeMailLog | SetUpBooking | SeeSiteFigures => {
                false
            }
        }
    }
}

/// Who may approve a role given in the portal (see `staff::access`): an
/// enabled administrator, or an enabled clinician who is the clinic's
/// medical director. Never for their own request (checked there).
pub fn approves_grants(user: &StaffUser) -> bool {
    user.disabled_at.is_none()
        && (user.role == Role::Admin || (user.role == Role::Clinician && user.medical_director))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_but_admin_sees_health_data() {
        for role in Role::ALL {
            assert_eq!(role.sees_health_data(), role != Role::Admin, "{role:?}");
        }
    }

    #[test]
    fn the_table() {
        let expected = |role: Role, p: Permission| match role {
            Role::Admin => matches!(
                p,
                Permission::ManageAccounts
                    | Permission::SeeAudit
                    | Permission::SeeMailLog
                    | Permission::SetUpBooking
                    | Permission::SeeSiteFigures
                    | Permission::OwnTokens
            ),
            Role::Clinician | Role::Coordinator => {
                matches!(
                    p,
                    Permission::SeeQueue
                        | Permission::SeeCase
                        | Permission::WorkCases
                        | Permission::SeePatients
                        | Permission::EditPatients
                        | Permission::SeeSchedule
                        | Permission::SeeWhoIsBooked
                        | Permission::ManageSchedule
                        | Permission::OwnTokens
                ) || (role == Role::Clinician
                    && matches!(
                        p,
                        Permission::ClinicalNotes
                            | Permission::ManageCourses
                            | Permission::RecordTreatment
                            | Permission::ReadDeviations
                    ))
                    || matches!(
                        p,
                        Permission::SeeCourses
                            | Permission::ManageAuthorizations
                            | Permission::RecordConsent
                    )
                    || (role == Role::Coordinator
                        && matches!(p, Permission::SeeMailLog | Permission::SetUpBooking))
            }
            Role::Technician => matches!(
                p,
                Permission::OwnTokens
                    | Permission::SeeCourses
                    | Permission::RecordTreatment
                    | Permission::SeeSchedule
            ),
        };
        for role in Role::ALL {
            for p in Permission::ALL {
                assert_eq!(allows(role, p), expected(role, p), "{role:?} {p:?}");
            }
        }
    }
}

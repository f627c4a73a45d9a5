//! Writes: authorized before any side effect, validated at the edge, atomic.

use crate::helpers::{id, spawn_app};
use confide::domain::Role;
use serde_json::json;

const ADD_NOTE: &str = r#"mutation($input: AddNoteInput!) { addNote(input: $input) { id body labels kind author { name } } }"#;

fn note_input(case: uuid::Uuid) -> serde_json::Value {
    json!({ "input": { "caseId": id(case), "kind": "MEETING", "body": "Follow-up session.", "labels": ["MENTAL_HEALTH", "FAMILY"] } })
}

#[tokio::test]
async fn practitioner_adds_a_note_to_a_case_of_their_own_service() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            ADD_NOTE,
            note_input(app.demo.alice_counselling_case),
        )
        .await;
    res.assert_no_errors();
    let note = &res.data()["addNote"];
    assert_eq!(note["body"], "Follow-up session.");
    assert_eq!(note["labels"], json!(["FAMILY", "MENTAL_HEALTH"]));
    assert_eq!(note["author"]["name"], "Priya Shah");
    let read = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"query($id: ID!) { supportCase(id: $id) { notes(limit: 1) { id body } } }"#,
            json!({ "id": id(app.demo.alice_counselling_case) }),
        )
        .await;
    assert_eq!(read.data()["supportCase"]["notes"][0]["id"], note["id"]);
}

#[tokio::test]
async fn lists_of_a_cases_notes_with_different_limits_in_one_request_agree() {
    let app = spawn_app().await;
    let case = app.demo.alice_counselling_case;
    for body in ["first", "second", "third", "fourth"] {
        let input = json!({ "input": { "caseId": id(case), "kind": "ACTION", "body": body } });
        app.as_caller(app.demo.counsellor, Role::Practitioner, ADD_NOTE, input)
            .await
            .assert_no_errors();
    }
    // Three lists of one case's notes in one request (the notes are read once
    // for the case group): each is the same notes, newest first, with their
    // authors, cut at its own limit.
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"query($id: ID!) { supportCase(id: $id) {
                two: notes(limit: 2) { id body author { name } }
                all: notes(limit: 100) { id body author { name } }
                one: notes(limit: 1) { id body author { name } } } }"#,
            json!({ "id": id(case) }),
        )
        .await;
    res.assert_no_errors();
    let read = &res.data()["supportCase"];
    let all = read["all"].as_array().expect("all notes");
    assert!(all.len() >= 4, "{all:#?}");
    assert_eq!(read["two"], json!(all[..2]));
    assert_eq!(read["one"], json!(all[..1]));
    for note in all {
        assert!(note["author"]["name"].is_string(), "{note:#}");
    }
    // Alone, a short list is the same newest notes.
    let alone = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"query($id: ID!) { supportCase(id: $id) { notes(limit: 2) { id body author { name } } } }"#,
            json!({ "id": id(case) }),
        )
        .await;
    assert_eq!(alone.data()["supportCase"]["notes"], json!(all[..2]));
}

#[tokio::test]
async fn forbidden_note_writes_leave_the_database_unchanged() {
    let app = spawn_app().await;
    let before = app.count("note").await;
    for (who, role) in [
        (app.demo.mental_health_adviser, Role::Practitioner),
        (app.demo.reception, Role::Reception),
        (app.demo.dpo, Role::Dpo),
        (app.demo.it_support, Role::ItSupport),
        (app.demo.alice, Role::Student),
    ] {
        let res = app
            .as_caller(
                who,
                role,
                ADD_NOTE,
                note_input(app.demo.alice_counselling_case),
            )
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role:?}: {:#}", res.body);
        assert_eq!(res.data(), &json!({ "addNote": null }), "{role:?}");
    }
    // A role no relation lets write notes is refused before the case is looked
    // up: the answer is the same for a case it cannot see and for no case at all,
    // so it cannot tell whether a case exists.
    let mut answers = Vec::new();
    for case in [app.demo.alice_counselling_case, uuid::Uuid::new_v4()] {
        let res = app
            .as_caller(
                app.demo.nhs_trust,
                Role::Partner,
                ADD_NOTE,
                note_input(case),
            )
            .await;
        answers.push((res.codes(), res.data().clone()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, vec!["FORBIDDEN"]);
    assert_eq!(app.count("note").await, before);
}

const CREATE: &str = r#"mutation($input: CreateStudentInput!) { createStudent(input: $input) { id name email department } }"#;

fn new_student(number: &str, email: &str) -> serde_json::Value {
    json!({ "input": { "studentNumber": number, "name": "Dana New", "email": email, "department": "history", "course": "BA History" } })
}

#[tokio::test]
async fn reception_registers_a_student_and_a_student_cannot() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            CREATE,
            new_student("S2000001", "dana@student.uni.example"),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(
        res.data()["createStudent"]["email"],
        "dana@student.uni.example"
    );
    let before = app.count("student").await;
    let res = app
        .as_caller(
            app.demo.alice,
            Role::Student,
            CREATE,
            new_student("S2000002", "eve@student.uni.example"),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    assert_eq!(app.count("student").await, before);
}

#[tokio::test]
async fn invalid_input_is_bad_user_input_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let before = app.count("student").await;
    for (vars, field) in [
        (new_student("S2000003", "not-an-email"), "input.email"),
        (
            new_student("S 2000003", "f@uni.example"),
            "input.studentNumber",
        ),
        (
            json!({ "input": { "studentNumber": "S2000004", "name": "   ", "email": "g@uni.example", "department": "history", "course": "BA" } }),
            "input.name",
        ),
        (
            json!({ "input": { "studentNumber": "S2000005", "name": "G", "email": "g@uni.example", "department": "History Dept", "course": "BA" } }),
            "input.department",
        ),
    ] {
        let res = app
            .as_caller(app.demo.reception, Role::Reception, CREATE, vars)
            .await;
        assert_eq!(res.codes(), vec!["BAD_USER_INPUT"], "{:#}", res.body);
        assert_eq!(res.errors()[0]["extensions"]["field"], field);
    }
    assert_eq!(app.count("student").await, before);
}

#[tokio::test]
async fn wrongly_typed_input_is_bad_user_input_and_never_internal() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            ADD_NOTE,
            json!({ "input": { "caseId": "x", "kind": "GOSSIP", "body": "b" } }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            ADD_NOTE,
            json!({ "input": { "caseId": "not-a-uuid", "kind": "MEETING", "body": "b" } }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(res.errors()[0]["extensions"]["field"], "input.caseId");
}

#[tokio::test]
async fn duplicate_student_number_is_a_conflict() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            CREATE,
            new_student("S1000001", "dup@student.uni.example"),
        )
        .await;
    assert_eq!(res.codes(), vec!["CONFLICT"]);
}

#[tokio::test]
async fn updating_a_student_changes_only_the_given_fields_and_null_clears() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            r#"mutation($id: ID!) { updateStudent(id: $id, input: { phone: null, course: "BA History and Politics" }) { phone course email } }"#,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    res.assert_no_errors();
    let s = &res.data()["updateStudent"];
    assert!(s["phone"].is_null());
    assert!(
        res.body["extensions"]["redactions"].is_null(),
        "phone is cleared, not redacted"
    );
    assert_eq!(s["course"], "BA History and Politics");
    assert_eq!(s["email"], "alice@student.uni.example");
}

#[tokio::test]
async fn enrolment_periods_are_recorded_and_validated() {
    let app = spawn_app().await;
    let q = r#"mutation($id: ID!, $s: NaiveDate!, $e: NaiveDate) { recordEnrolment(studentId: $id, startsOn: $s, endsOn: $e) { startsOn endsOn } }"#;
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            q,
            json!({ "id": id(app.demo.bob), "s": "2026-09-28", "e": "2027-06-30" }),
        )
        .await;
    res.assert_no_errors();
    let before = app.count("enrolment").await;
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            q,
            json!({ "id": id(app.demo.bob), "s": "2026-09-28", "e": "2025-06-30" }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(app.count("enrolment").await, before);
}

#[tokio::test]
async fn practitioners_open_cases_only_in_their_own_service() {
    let app = spawn_app().await;
    let q = r#"mutation($input: OpenCaseInput!) { openCase(input: $input) { id service status riskLevel } }"#;
    let res = app
        .as_caller(app.demo.counsellor, Role::Practitioner, q, json!({ "input": { "studentId": id(app.demo.bob), "service": "counselling", "riskLevel": "LOW" } }))
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["openCase"]["status"], "OPEN");
    assert_eq!(res.data()["openCase"]["riskLevel"], "LOW");
    let before = app.count("support_case").await;
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            q,
            json!({ "input": { "studentId": id(app.demo.bob), "service": "mental_health" } }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    assert_eq!(app.count("support_case").await, before);
}

#[tokio::test]
async fn only_the_service_lead_assigns_and_only_to_staff_of_the_service() {
    let app = spawn_app().await;
    let q = r#"mutation($case: ID!, $staff: ID!) { assignCase(caseId: $case, staffId: $staff) { assignedTo { id name } } }"#;
    let vars = |staff: uuid::Uuid| json!({ "case": id(app.demo.alice_counselling_case), "staff": id(staff) });
    let res = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            q,
            vars(app.demo.counselling_lead),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    let res = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            q,
            vars(app.demo.mental_health_adviser),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(res.errors()[0]["extensions"]["field"], "staffId");
    let res = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            q,
            vars(app.demo.counselling_lead),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(
        res.data()["assignCase"]["assignedTo"]["name"],
        "Maria Lopez"
    );
}

#[tokio::test]
async fn closing_a_case_twice_is_a_conflict() {
    let app = spawn_app().await;
    let q = r#"mutation($case: ID!) { closeCase(caseId: $case) { status closedAt } }"#;
    let vars = json!({ "case": id(app.demo.alice_counselling_case) });
    let res = app
        .as_caller(app.demo.counsellor, Role::Practitioner, q, vars.clone())
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["closeCase"]["status"], "CLOSED");
    let res = app
        .as_caller(app.demo.counsellor, Role::Practitioner, q, vars)
        .await;
    assert_eq!(res.codes(), vec!["CONFLICT"]);
}

#[tokio::test]
async fn third_party_entries_stay_within_the_owning_service() {
    let app = spawn_app().await;
    let q = r#"mutation($input: RecordThirdPartyEntryInput!) { recordThirdPartyEntry(input: $input) { id source body } }"#;
    let input = json!({ "input": { "caseId": id(app.demo.alice_mental_health_case), "source": "Parent", "subject": "Parent", "body": "Parent called with concerns." } });
    let res = app
        .as_caller(
            app.demo.mental_health_adviser,
            Role::Practitioner,
            q,
            input.clone(),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(
        res.data()["recordThirdPartyEntry"]["body"],
        "Parent called with concerns."
    );
    let res = app
        .as_caller(app.demo.counsellor, Role::Practitioner, q, input)
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    let read = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            r#"query($id: ID!) { supportCase(id: $id) { thirdPartyEntries { body } } }"#,
            json!({ "id": id(app.demo.alice_mental_health_case) }),
        )
        .await;
    assert!(read.data()["supportCase"]["thirdPartyEntries"].is_null());
    assert_eq!(
        read.redaction(json!(["supportCase", "thirdPartyEntries"]))
            .as_deref(),
        Some("OUTSIDE_SERVICE")
    );
}

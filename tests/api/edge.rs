//! The HTTP edge: introspection per audience, GraphiQL, slow bodies, services.

use crate::helpers::{id, spawn_app, spawn_app_with};
use confide::domain::Role;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INTROSPECT: &str = "{ __schema { queryType { name } } }";

#[tokio::test]
async fn outside_audiences_get_no_introspection_and_no_suggestions_staff_do() {
    let app = spawn_app().await;
    let staff = app
        .as_caller(
            app.demo.counsellor,
            Role::Practitioner,
            INTROSPECT,
            json!({}),
        )
        .await;
    staff.assert_no_errors();
    assert_eq!(staff.data()["__schema"]["queryType"]["name"], "QueryRoot");
    let partner = app
        .as_caller(app.demo.nhs_trust, Role::Partner, INTROSPECT, json!({}))
        .await;
    // Introspection off: the schema is not described.
    assert!(partner.data()["__schema"].is_null(), "{:#}", partner.body);
    assert!(!partner.body.to_string().contains("QueryRoot"));
    // A misspelt field: staff are told what was meant, a partner is not.
    let typo = "{ studnts { totalCount } }";
    let staff = app
        .as_caller(app.demo.counsellor, Role::Practitioner, typo, json!({}))
        .await;
    assert!(
        staff.body.to_string().contains("Did you mean"),
        "{:#}",
        staff.body
    );
    let partner = app
        .as_caller(app.demo.nhs_trust, Role::Partner, typo, json!({}))
        .await;
    assert!(!partner.errors().is_empty());
    assert!(
        !partner.body.to_string().contains("Did you mean"),
        "{:#}",
        partner.body
    );
}

#[tokio::test]
async fn graphiql_is_off_unless_enabled_and_then_pins_its_assets() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let app = spawn_app_with(|s| s.graphiql = true).await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scripts = page.matches("<script src=").count();
    assert_eq!(scripts, 3);
    assert_eq!(
        page.matches("integrity=\"sha384-").count(),
        4,
        "every asset pinned"
    );
    assert!(
        !page.contains("@1/") && !page.contains("@17/"),
        "exact versions only"
    );
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_with_408() {
    let app = spawn_app_with(|s| s.body_timeout_secs = 1).await;
    let token = app.token(app.demo.alice, Role::Student);
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"query\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut response),
    )
    .await;
    assert!(read.is_ok(), "the server must end the request itself");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("BAD_USER_INPUT"), "{text}");
}

#[tokio::test]
async fn a_case_cannot_be_opened_in_a_service_that_does_not_exist() {
    let app = spawn_app().await;
    let before = app.count("support_case").await;
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            r#"mutation($input: OpenCaseInput!) { openCase(input: $input) { id } }"#,
            json!({ "input": { "studentId": id(app.demo.alice), "service": "astrology" } }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(res.errors()[0]["extensions"]["field"], "input.service");
    assert_eq!(app.count("support_case").await, before);
}

#[tokio::test]
async fn implausible_dates_are_bad_input_and_nothing_is_written() {
    let app = spawn_app().await;
    let counsellor = (app.demo.counsellor, Role::Practitioner);
    let (enrolments, notes, students) = (
        app.count("enrolment").await,
        app.count("note").await,
        app.count("student").await,
    );
    for starts in ["9999-01-01", "1066-10-14"] {
        let res = app
            .as_caller(
                counsellor.0,
                counsellor.1,
                r#"mutation($s: ID!, $d: NaiveDate!) { recordEnrolment(studentId: $s, startsOn: $d) { id } }"#,
                json!({ "s": id(app.demo.alice), "d": starts }),
            )
            .await;
        assert_eq!(
            res.codes(),
            vec!["BAD_USER_INPUT"],
            "{starts}: {:#}",
            res.body
        );
    }
    // A note dated in year 1, or before the student's first enrolment (2023).
    for at in ["0001-01-01T00:00:00Z", "2020-01-01T00:00:00Z"] {
        let res = app
            .as_caller(
                counsellor.0,
                counsellor.1,
                r#"mutation($input: AddNoteInput!) { addNote(input: $input) { id } }"#,
                json!({ "input": { "caseId": id(app.demo.alice_counselling_case), "kind": "ACTION", "body": "Dated.", "occurredAt": at } }),
            )
            .await;
        assert_eq!(res.codes(), vec!["BAD_USER_INPUT"], "{at}: {:#}", res.body);
        assert_eq!(res.errors()[0]["extensions"]["field"], "occurredAt");
    }
    let res = app
        .as_caller(
            app.demo.reception,
            Role::Reception,
            r#"mutation($input: CreateStudentInput!) { createStudent(input: $input) { id } }"#,
            json!({ "input": { "studentNumber": "S1800", "name": "Old", "email": "old@uni.example", "department": "history", "course": "BA", "dateOfBirth": "1800-01-01" } }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(app.count("enrolment").await, enrolments);
    assert_eq!(app.count("note").await, notes);
    assert_eq!(app.count("student").await, students);
}

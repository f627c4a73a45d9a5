//! The directory: staff, departments, university services and partner
//! organisations, created and deactivated by administrators (and, for their own
//! service's practitioners and reception, service leads); a deactivated caller
//! is refused on their very next request.

use crate::helpers::{id, spawn_app, Gql, TestApp};
use confide::auth::Claims;
use confide::domain::Role;
use serde_json::{json, Value};
use uuid::Uuid;

const CREATE_STAFF: &str = r#"mutation($input: CreateStaffInput!) {
    createStaff(input: $input) { id name email role service department universityUnit active } }"#;
const DEACTIVATE_STAFF: &str = r#"mutation($id: ID!) {
    deactivateStaff(staffId: $id) { id active } }"#;
const ME: &str = "{ me { name role service } }";

async fn create_staff(app: &TestApp, who: Uuid, role: Role, input: Value) -> Gql {
    app.as_caller(who, role, CREATE_STAFF, json!({ "input": input }))
        .await
}

fn created_id(res: &Gql) -> Uuid {
    res.assert_no_errors();
    Uuid::parse_str(res.data()["createStaff"]["id"].as_str().unwrap()).unwrap()
}

fn assert_refused(res: &Gql) {
    assert_eq!(res.status, 401, "{:#}", res.body);
    assert_eq!(res.codes(), vec!["UNAUTHENTICATED"]);
}

fn practitioner(email: &str, service: &str) -> Value {
    json!({ "name": "New Practitioner", "email": email, "role": "PRACTITIONER", "service": service })
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM audit_event WHERE action = '{action}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

use sea_orm::ConnectionTrait;

#[tokio::test]
async fn admin_creates_a_practitioner_who_can_then_sign_in() {
    let app = spawn_app().await;
    let res = create_staff(
        &app,
        app.demo.admin,
        Role::Admin,
        practitioner("new.p@uni.example", "wellbeing"),
    )
    .await;
    let new = created_id(&res);
    assert_eq!(
        res.data()["createStaff"],
        json!({ "id": id(new), "name": "New Practitioner", "email": "new.p@uni.example",
                "role": "PRACTITIONER", "service": "wellbeing", "department": null,
                "universityUnit": null, "active": true })
    );
    assert_eq!(audit_count(&app, "staff_created").await, 1);
    let me = app.as_caller(new, Role::Practitioner, ME, json!({})).await;
    me.assert_no_errors();
    assert_eq!(me.data()["me"]["service"], "wellbeing");
    // In any other role the token names no record.
    assert_refused(&app.as_caller(new, Role::ServiceLead, ME, json!({})).await);
}

#[tokio::test]
async fn service_lead_creates_and_deactivates_a_practitioner_of_their_own_service() {
    let app = spawn_app().await;
    let lead = app.demo.counselling_lead;
    let res = create_staff(
        &app,
        lead,
        Role::ServiceLead,
        practitioner("c.new@uni.example", "counselling"),
    )
    .await;
    let new = created_id(&res);
    let reception = created_id(
        &create_staff(
            &app,
            lead,
            Role::ServiceLead,
            json!({ "name": "Desk", "email": "desk2@uni.example", "role": "RECEPTION", "service": "counselling" }),
        )
        .await,
    );
    let res = app
        .as_caller(
            lead,
            Role::ServiceLead,
            DEACTIVATE_STAFF,
            json!({ "id": id(new) }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["deactivateStaff"]["active"], false);
    assert_refused(&app.as_caller(new, Role::Practitioner, ME, json!({})).await);
    app.as_caller(reception, Role::Reception, ME, json!({}))
        .await
        .assert_no_errors();
}

#[tokio::test]
async fn service_lead_cannot_create_staff_in_another_service() {
    let app = spawn_app().await;
    let before = app.count("staff").await;
    let res = create_staff(
        &app,
        app.demo.counselling_lead,
        Role::ServiceLead,
        practitioner("elsewhere@uni.example", "disability"),
    )
    .await;
    assert_eq!(res.data()["createStaff"], Value::Null);
    assert_eq!(res.codes(), vec!["FORBIDDEN"], "{:#}", res.body);
    // Nor a service lead, an analyst or an administrator, even in their own service.
    for input in [
        json!({ "name": "Lead", "email": "lead2@uni.example", "role": "SERVICE_LEAD", "service": "counselling" }),
        json!({ "name": "Analyst", "email": "an2@uni.example", "role": "ANALYST" }),
        json!({ "name": "Admin", "email": "ad2@uni.example", "role": "ADMIN" }),
    ] {
        let res = create_staff(&app, app.demo.counselling_lead, Role::ServiceLead, input).await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{:#}", res.body);
    }
    // Nor deactivate a practitioner of another service.
    let res = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            DEACTIVATE_STAFF,
            json!({ "id": id(app.demo.disability_adviser) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"], "{:#}", res.body);
    assert_eq!(app.count("staff").await, before);
    app.as_caller(
        app.demo.disability_adviser,
        Role::Practitioner,
        ME,
        json!({}),
    )
    .await
    .assert_no_errors();
}

#[tokio::test]
async fn roles_without_a_directory_line_are_refused_before_anything_is_read() {
    let app = spawn_app().await;
    for (who, role) in [
        (app.demo.counsellor, Role::Practitioner),
        (app.demo.dpo, Role::Dpo),
        (app.demo.reception, Role::Reception),
        (app.demo.nhs_trust, Role::Partner),
    ] {
        let res = create_staff(
            &app,
            who,
            role,
            practitioner("x@uni.example", "counselling"),
        )
        .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role}: {:#}", res.body);
        let res = app
            .as_caller(
                who,
                role,
                r#"mutation { createDepartment(code: "law", name: "Law") { id } }"#,
                json!({}),
            )
            .await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{role}: {:#}", res.body);
    }
    // A service lead manages staff, not departments.
    let res = app
        .as_caller(
            app.demo.counselling_lead,
            Role::ServiceLead,
            r#"mutation { deactivateDepartment(code: "history") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"], "{:#}", res.body);
    assert_eq!(app.count("department").await, 2);
}

#[tokio::test]
async fn deactivated_practitioner_is_refused_at_once() {
    let app = spawn_app().await;
    let token = app.token(app.demo.disability_adviser, Role::Practitioner);
    app.gql(&token, ME, json!({})).await.assert_no_errors();
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            DEACTIVATE_STAFF,
            json!({ "id": id(app.demo.disability_adviser) }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(audit_count(&app, "staff_deactivated").await, 1);
    // The same token, the very next request.
    assert_refused(&app.gql(&token, ME, json!({})).await);
    // A second deactivation is a conflict.
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            DEACTIVATE_STAFF,
            json!({ "id": id(app.demo.disability_adviser) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["CONFLICT"], "{:#}", res.body);
}

#[tokio::test]
async fn nobody_deactivates_themself() {
    let app = spawn_app().await;
    for (who, role) in [
        (app.demo.admin, Role::Admin),
        (app.demo.counselling_lead, Role::ServiceLead),
    ] {
        let res = app
            .as_caller(who, role, DEACTIVATE_STAFF, json!({ "id": id(who) }))
            .await;
        assert!(
            res.codes() == vec!["BAD_USER_INPUT"] || res.codes() == vec!["FORBIDDEN"],
            "{role}: {:#}",
            res.body
        );
        app.as_caller(who, role, ME, json!({}))
            .await
            .assert_no_errors();
    }
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            DEACTIVATE_STAFF,
            json!({ "id": id(app.demo.admin) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"]);
    assert_eq!(res.errors()[0]["extensions"]["field"], "staffId");
}

#[tokio::test]
async fn partner_token_with_idp_subject_is_accepted() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            r#"mutation { createPartnerOrganisation(name: "Harbour Housing", kind: LANDLORD, idpSubject: "auth0|harbour-housing") { id name kind idpSubject active } }"#,
            json!({}),
        )
        .await;
    res.assert_no_errors();
    let org = res.data()["createPartnerOrganisation"].clone();
    assert_eq!(org["idpSubject"], "auth0|harbour-housing");
    assert_eq!(org["kind"], "LANDLORD");
    let now = chrono::Utc::now().timestamp();
    let token = app.token_with_claims(&Claims {
        sub: "auth0|harbour-housing".to_owned(),
        role: "partner".to_owned(),
        exp: now + 600,
        nbf: None,
        iat: Some(now),
        iss: None,
        aud: None,
    });
    let me = app.gql(&token, "{ me { id name role } }", json!({})).await;
    me.assert_no_errors();
    assert_eq!(me.data()["me"]["id"], org["id"]);
    assert_eq!(me.data()["me"]["name"], "Harbour Housing");
    // The internal id keeps working, and a subject mapped to no one is refused.
    let internal = Uuid::parse_str(org["id"].as_str().unwrap()).unwrap();
    app.as_caller(internal, Role::Partner, ME, json!({}))
        .await
        .assert_no_errors();
    let stranger = app.token_with_claims(&Claims {
        sub: "auth0|nobody".to_owned(),
        role: "partner".to_owned(),
        exp: now + 600,
        nbf: None,
        iat: Some(now),
        iss: None,
        aud: None,
    });
    assert_refused(&app.gql(&stranger, ME, json!({})).await);
    // The subject names a partner only: as another role it names no record.
    let as_staff = app.token_with_claims(&Claims {
        sub: "auth0|harbour-housing".to_owned(),
        role: "practitioner".to_owned(),
        exp: now + 600,
        nbf: None,
        iat: Some(now),
        iss: None,
        aud: None,
    });
    assert_refused(&app.gql(&as_staff, ME, json!({})).await);
}

#[tokio::test]
async fn deactivated_partner_organisation_is_refused() {
    let app = spawn_app().await;
    let token = app.token(app.demo.landlord_a, Role::Partner);
    app.gql(&token, ME, json!({})).await.assert_no_errors();
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            "mutation($id: ID!) { deactivatePartnerOrganisation(id: $id) { id active } }",
            json!({ "id": id(app.demo.landlord_a) }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["deactivatePartnerOrganisation"]["active"], false);
    assert_refused(&app.gql(&token, ME, json!({})).await);
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            "mutation($id: ID!) { deactivatePartnerOrganisation(id: $id) { id } }",
            json!({ "id": id(Uuid::new_v4()) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["NOT_FOUND"], "{:#}", res.body);
}

#[tokio::test]
async fn admin_sees_no_student_data() {
    let app = spawn_app().await;
    let admin = app.demo.admin;
    for query in [
        "{ students(first: 10) { totalCount edges { node { id name } } } }",
        "{ supportCases(first: 10) { totalCount edges { node { id service } } } }",
        "{ riskExceptions { id } }",
        "{ caseStatistics { service status } }",
    ] {
        let res = app.as_caller(admin, Role::Admin, query, json!({})).await;
        assert_eq!(res.codes(), vec!["FORBIDDEN"], "{query}: {:#}", res.body);
        assert!(
            res.data().as_object().unwrap().values().all(Value::is_null),
            "{query}: {:#}",
            res.body
        );
    }
    let res = app
        .as_caller(
            admin,
            Role::Admin,
            "query($id: ID!) { student(id: $id) { id name } }",
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    assert_eq!(res.data()["student"], Value::Null);
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    // Nor can an administrator write to a student.
    let res = app
        .as_caller(
            admin,
            Role::Admin,
            r#"mutation($id: ID!) { updateStudent(id: $id, input: { name: "X" }) { id } }"#,
            json!({ "id": id(app.demo.alice) }),
        )
        .await;
    assert_eq!(res.codes(), vec!["FORBIDDEN"]);
    let me = app.as_caller(admin, Role::Admin, ME, json!({})).await;
    me.assert_no_errors();
    assert_eq!(me.data()["me"]["role"], "ADMIN");
}

#[tokio::test]
async fn duplicate_email_is_a_conflict() {
    let app = spawn_app().await;
    let before = app.count("staff").await;
    // The counsellor's email.
    let res = create_staff(
        &app,
        app.demo.admin,
        Role::Admin,
        practitioner("p.shah@uni.example", "counselling"),
    )
    .await;
    assert_eq!(res.codes(), vec!["CONFLICT"], "{:#}", res.body);
    assert_eq!(app.count("staff").await, before);
    // A department code and an identity provider subject already used.
    let dup = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            r#"mutation { createDepartment(code: "history", name: "History again") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(dup.codes(), vec!["CONFLICT"], "{:#}", dup.body);
    let partner = r#"mutation { createPartnerOrganisation(name: "A", kind: OTHER, idpSubject: "same-subject") { id } }"#;
    app.as_caller(app.demo.admin, Role::Admin, partner, json!({}))
        .await
        .assert_no_errors();
    let dup = app
        .as_caller(app.demo.admin, Role::Admin, partner, json!({}))
        .await;
    assert_eq!(dup.codes(), vec!["CONFLICT"], "{:#}", dup.body);
}

#[tokio::test]
async fn staff_need_the_attachment_their_role_requires() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "name": "P", "email": "p1@uni.example", "role": "PRACTITIONER" }),
            "input.service",
        ),
        (
            json!({ "name": "P", "email": "p2@uni.example", "role": "PRACTITIONER", "service": "astrology" }),
            "input.service",
        ),
        (
            json!({ "name": "A", "email": "a1@uni.example", "role": "ANALYST", "service": "counselling" }),
            "input.service",
        ),
        (
            json!({ "name": "D", "email": "d1@uni.example", "role": "DEPARTMENT" }),
            "input.department",
        ),
        (
            json!({ "name": "D", "email": "d2@uni.example", "role": "DEPARTMENT", "department": "alchemy" }),
            "input.department",
        ),
        (
            json!({ "name": "U", "email": "u1@uni.example", "role": "UNIVERSITY_SERVICE", "universityUnit": "moat" }),
            "input.universityUnit",
        ),
        (
            json!({ "name": "S", "email": "s1@uni.example", "role": "STUDENT" }),
            "input.role",
        ),
        (
            json!({ "name": "P", "email": "not-an-email", "role": "DPO" }),
            "input.email",
        ),
    ];
    for (input, field) in cases {
        let res = create_staff(&app, app.demo.admin, Role::Admin, input.clone()).await;
        assert_eq!(
            res.codes(),
            vec!["BAD_USER_INPUT"],
            "{input}: {:#}",
            res.body
        );
        assert_eq!(res.errors()[0]["extensions"]["field"], field, "{input}");
    }
    // An existing active department and unit are accepted.
    for input in [
        json!({ "name": "Physics Office", "email": "physics@uni.example", "role": "DEPARTMENT", "department": "physics" }),
        json!({ "name": "Housing", "email": "housing@uni.example", "role": "UNIVERSITY_SERVICE", "universityUnit": "accommodation" }),
        json!({ "name": "Second Admin", "email": "admin2@uni.example", "role": "ADMIN" }),
    ] {
        create_staff(&app, app.demo.admin, Role::Admin, input)
            .await
            .assert_no_errors();
    }
}

#[tokio::test]
async fn department_staff_of_a_deactivated_department_are_refused() {
    let app = spawn_app().await;
    let token = app.token(app.demo.history_department, Role::Department);
    app.gql(&token, ME, json!({})).await.assert_no_errors();
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            r#"mutation { deactivateDepartment(code: "history") { code name active } }"#,
            json!({}),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(
        res.data()["deactivateDepartment"],
        json!({ "code": "history", "name": "History", "active": false })
    );
    assert_refused(&app.gql(&token, ME, json!({})).await);
    // No new staff can be attached to it.
    let res = create_staff(
        &app,
        app.demo.admin,
        Role::Admin,
        json!({ "name": "H", "email": "h2@uni.example", "role": "DEPARTMENT", "department": "history" }),
    )
    .await;
    assert_eq!(res.codes(), vec!["BAD_USER_INPUT"], "{:#}", res.body);
}

#[tokio::test]
async fn university_service_staff_of_a_deactivated_unit_are_refused() {
    let app = spawn_app().await;
    let token = app.token(app.demo.accommodation, Role::UniversityService);
    app.gql(&token, ME, json!({})).await.assert_no_errors();
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            r#"mutation { deactivateUniversityService(code: "accommodation") { active } }"#,
            json!({}),
        )
        .await;
    res.assert_no_errors();
    assert_refused(&app.gql(&token, ME, json!({})).await);
    // A new unit, and a member attached to it who signs in.
    app.as_caller(
        app.demo.admin,
        Role::Admin,
        r#"mutation { createUniversityService(code: "security", name: "Campus Security") { code active } }"#,
        json!({}),
    )
    .await
    .assert_no_errors();
    let guard = created_id(
        &create_staff(
            &app,
            app.demo.admin,
            Role::Admin,
            json!({ "name": "Guard", "email": "guard@uni.example", "role": "UNIVERSITY_SERVICE", "universityUnit": "security" }),
        )
        .await,
    );
    app.as_caller(guard, Role::UniversityService, ME, json!({}))
        .await
        .assert_no_errors();
}

#[tokio::test]
async fn admin_records_a_registration() {
    let app = spawn_app().await;
    let res = app
        .as_caller(
            app.demo.admin,
            Role::Admin,
            r#"mutation($id: ID!) { recordRegistration(staffId: $id, body: "BACP", number: "B123", expiresOn: "2031-01-31") }"#,
            json!({ "id": id(app.demo.disability_adviser) }),
        )
        .await;
    res.assert_no_errors();
    assert_eq!(res.data()["recordRegistration"], true);
}

#[tokio::test]
async fn the_cli_creates_the_first_administrator_who_can_sign_in() {
    let app = spawn_app().await;
    let admin = confide::cli::create_admin(&app.db_url, "First Admin", "first.admin@uni.example")
        .await
        .unwrap();
    let me = app.as_caller(admin, Role::Admin, ME, json!({})).await;
    me.assert_no_errors();
    assert_eq!(me.data()["me"]["name"], "First Admin");
    // The same email again is refused.
    let again =
        confide::cli::create_admin(&app.db_url, "First Admin", "first.admin@uni.example").await;
    assert!(again.is_err());
    // And the new administrator creates a department.
    app.as_caller(
        admin,
        Role::Admin,
        r#"mutation { createDepartment(code: "law", name: "Law") { code } }"#,
        json!({}),
    )
    .await
    .assert_no_errors();
    assert_eq!(audit_count(&app, "department_created").await, 1);
}

#[tokio::test]
async fn upgrading_creates_the_departments_and_units_staff_records_name() {
    use migration::MigratorTrait;
    let app = spawn_app().await;
    // A database from before the directory: staff name departments and units
    // that have no rows. Rolling back the backfill (a no-op) and deleting the
    // rows stands in for it (with the two audit chain migrations after it).
    migration::Migrator::down(&app.db, Some(3)).await.unwrap();
    for table in ["department", "university_service"] {
        app.db
            .execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
    let token = app.token(app.demo.history_department, Role::Department);
    assert_refused(&app.gql(&token, ME, json!({})).await);
    migration::Migrator::up(&app.db, None).await.unwrap();
    app.gql(&token, ME, json!({})).await.assert_no_errors();
    app.as_caller(
        app.demo.accommodation,
        Role::UniversityService,
        ME,
        json!({}),
    )
    .await
    .assert_no_errors();
    // Only what staff records name: the students' physics has no department caller.
    assert_eq!(app.count("department").await, 1);
}

use sea_orm_migration::{prelude::*, schema::*};

/// A professional registration on file: the body, the number and the expiry.
/// A registered mental health professional is one whose registration has not
/// lapsed (settled decision "registration").
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_null(Staff::RegistrationBody),
            string_null(Staff::RegistrationNumber),
            date_null(Staff::RegistrationExpiresOn),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Staff::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Staff::RegistrationBody,
            Staff::RegistrationNumber,
            Staff::RegistrationExpiresOn,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Staff::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Staff {
    Table,
    RegistrationBody,
    RegistrationNumber,
    RegistrationExpiresOn,
}

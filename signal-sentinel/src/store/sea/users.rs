use async_trait::async_trait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::entity::user;
use super::{SeaStore, backend_err, corrupt, not_found, updated, write_err};
use crate::domain::{Email, NewUser, User, UserId, UserUpdate};
use crate::store::{Result, UserStore};
use crate::{Secret, time};

const ENTITY: &str = "user";

fn to_domain(m: user::Model) -> Result<User> {
    Ok(User {
        id: UserId::new(m.id),
        email: Email::parse(&m.email).map_err(corrupt(ENTITY))?,
        password_hash: Secret::new(m.password_hash),
        display_name: m.display_name,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

#[async_trait]
impl UserStore for SeaStore {
    async fn ping(&self) -> Result<()> {
        self.db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                "SELECT 1",
            ))
            .await
            .map(|_| ())
            .map_err(backend_err)
    }

    async fn create_user(&self, new: NewUser) -> Result<User> {
        let now = time::now();
        let model = user::ActiveModel {
            email: Set(new.email.as_str().to_owned()),
            password_hash: Set(new.password_hash.expose().to_owned()),
            display_name: Set(new.display_name),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await
        .map_err(write_err(ENTITY))?;
        to_domain(model)
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        to_domain(self.find_row::<user::Entity>(ENTITY, id.get()).await?)
    }

    async fn get_user_by_email(&self, email: &Email) -> Result<User> {
        user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await
            .map_err(backend_err)?
            .ok_or_else(|| not_found(ENTITY, email))
            .and_then(to_domain)
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        user::Entity::find()
            .order_by_asc(user::Column::Id)
            .all(&self.db)
            .await
            .map_err(backend_err)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User> {
        let mut model = user::ActiveModel {
            id: Set(id.get()),
            updated_at: Set(time::now()),
            ..Default::default()
        };
        if let Some(hash) = update.password_hash {
            model.password_hash = Set(hash.expose().to_owned());
        }
        if let Some(name) = update.display_name {
            model.display_name = Set(name);
        }
        to_domain(updated(model.update(&self.db).await, ENTITY, id.get())?)
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        self.delete_row::<user::Entity>(ENTITY, id.get()).await
    }
}

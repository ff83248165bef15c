//! What the sign-in pages say, in Ukrainian (the default) and English (by `Accept-Language`),
//! and the scope catalogue: every scope a client may request, in words. A scope is an action
//! on a resource (`declaration:read`); its words are the action's and the resource's. A scope
//! outside the catalogue is shown raw.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Uk,
    En,
}

impl Lang {
    /// The first of Ukrainian and English that the header names; Ukrainian when neither.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let mut ranked: Vec<(f32, Lang)> = header
            .unwrap_or_default()
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim().to_ascii_lowercase();
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                let lang = match tag.split('-').next()? {
                    "uk" => Lang::Uk,
                    "en" => Lang::En,
                    _ => return None,
                };
                Some((q, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Lang::Uk, |(_, lang)| *lang)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Uk => "uk",
            Lang::En => "en",
        }
    }
}

/// The pages' fixed texts.
pub struct Texts {
    pub sign_in: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub submit: &'static str,
    pub code: &'static str,
    pub code_sent: &'static str,
    pub confirm: &'static str,
    pub resend: &'static str,
    pub sent_again: &'static str,
    pub phone: &'static str,
    pub phone_lead: &'static str,
    pub send_code: &'static str,
    pub consent_title: &'static str,
    pub consent_lead: &'static str,
    pub approve: &'static str,
    pub deny: &'static str,
    pub error_title: &'static str,
    pub start_again: &'static str,
}

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Uk => &Texts {
            sign_in: "Вхід",
            email: "Електронна пошта",
            password: "Пароль",
            submit: "Увійти",
            code: "Код із SMS",
            code_sent: "Ми надіслали код підтвердження на ваш телефон.",
            confirm: "Підтвердити",
            resend: "Надіслати код ще раз",
            sent_again: "Новий код надіслано.",
            phone: "Номер телефону",
            phone_lead: "Для входу потрібен телефон, на який ми надсилатимемо коди підтвердження.",
            send_code: "Надіслати код",
            consent_title: "Надати доступ",
            consent_lead: "просить доступ до таких дій від вашого імені:",
            approve: "Дозволити",
            deny: "Відмовити",
            error_title: "Вхід неможливий",
            start_again: "Поверніться до застосунку й почніть вхід знову.",
        },
        Lang::En => &Texts {
            sign_in: "Sign in",
            email: "E-mail",
            password: "Password",
            submit: "Sign in",
            code: "Code from the SMS",
            code_sent: "We have sent a confirmation code to your phone.",
            confirm: "Confirm",
            resend: "Send the code again",
            sent_again: "A new code has been sent.",
            phone: "Phone number",
            phone_lead: "Signing in needs a phone to which we send confirmation codes.",
            send_code: "Send a code",
            consent_title: "Grant access",
            consent_lead: "asks to do the following on your behalf:",
            approve: "Allow",
            deny: "Deny",
            error_title: "You cannot sign in",
            start_again: "Go back to the application and start signing in again.",
        },
    }
}

/// Who signs in, by the client's type: the form says it.
pub fn audience(client_type: &str, lang: Lang) -> &'static str {
    match (client_type, lang) {
        ("CABINET", Lang::Uk) => "Особистий кабінет пацієнта",
        ("CABINET", Lang::En) => "The patient's cabinet",
        ("MSP", Lang::Uk) => "Для працівників закладів охорони здоров'я",
        ("MSP", Lang::En) => "For employees of healthcare providers",
        ("PHARMACY", Lang::Uk) => "Для працівників аптек",
        ("PHARMACY", Lang::En) => "For pharmacy employees",
        ("MIS", Lang::Uk) => "Для користувачів медичної інформаційної системи",
        ("MIS", Lang::En) => "For users of a medical information system",
        (_, Lang::Uk) => "Електронна система охорони здоров'я",
        (_, Lang::En) => "The eHealth system",
    }
}

/// A message the pages show for a refusal of the API (its English message), in `lang`.
pub fn refusal(message: &str, lang: Lang) -> String {
    let uk = match message {
        "Identity, password combination is wrong." => "Неправильна електронна пошта або пароль.",
        "You reached login attempts limit. Try again later" => {
            "Забагато невдалих спроб. Спробуйте пізніше."
        }
        "User blocked." => "Обліковий запис заблоковано.",
        "User is not registered" => "Ви не зареєстровані в особистому кабінеті.",
        "Invalid OTP code." => "Неправильний код.",
        "OTP expired." => "Строк дії коду минув. Почніть вхід знову.",
        "Reached max OTP verify attempts" => "Вичерпано спроби введення коду. Почніть вхід знову.",
        "Sending OTP timeout. Try later." => "Забагато кодів за хвилину. Спробуйте пізніше.",
        "SMS not sent. Try later" => "Не вдалося надіслати SMS. Спробуйте пізніше.",
        "The phone is +380 and nine digits." => "Номер телефону: +380 і дев'ять цифр.",
        _ => message,
    };
    match lang {
        Lang::Uk => uk.to_owned(),
        Lang::En if message.starts_with("The password expired") => {
            "Your password has expired: change it in your application.".into()
        }
        Lang::En => message.to_owned(),
    }
}

/// `scope` in words, or None when the catalogue has no words for it.
pub fn scope_words(scope: &str, lang: Lang) -> Option<String> {
    if let Some(whole) = WHOLE.iter().find(|(s, _, _)| *s == scope) {
        return Some(pick(lang, whole.1, whole.2).to_owned());
    }
    let (resource, action) = scope.split_once(':')?;
    let (_, r_uk, r_en) = RESOURCES.iter().find(|(r, _, _)| *r == resource)?;
    let (_, a_uk, a_en) = ACTIONS.iter().find(|(a, _, _)| *a == action)?;
    Some(match lang {
        Lang::Uk => format!("{a_uk}: {r_uk}"),
        Lang::En => format!("{a_en}: {r_en}"),
    })
}

/// The Ukrainian or the English of a text.
pub fn pick<'a>(lang: Lang, uk: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Uk => uk,
        Lang::En => en,
    }
}

/// Scopes whose words are not an action on a resource.
const WHOLE: &[(&str, &str, &str)] = &[
    (
        "app:authorize",
        "Надавати застосункам доступ від вашого імені",
        "Grant applications access on your behalf",
    ),
    (
        "user:change_password",
        "Змінити ваш пароль",
        "Change your password",
    ),
    (
        "user:request_factor",
        "Запросити другий фактор входу",
        "Request a second sign-in factor",
    ),
    (
        "user:approve_factor",
        "Підтвердити другий фактор входу",
        "Approve a second sign-in factor",
    ),
    (
        "connection:refresh_secret",
        "Оновлювати секрет підключення",
        "Renew a connection's secret",
    ),
    ("secret:refresh", "Оновлювати секрети", "Renew secrets"),
    (
        "legal_entity:mis_verify",
        "Підтверджувати юридичні особи як МІС",
        "Verify legal entities as a MIS",
    ),
    (
        "legal_entity:nhs_verify",
        "Підтверджувати юридичні особи як НСЗУ",
        "Verify legal entities as the NHSU",
    ),
];

const ACTIONS: &[(&str, &str, &str)] = &[
    ("read", "Перегляд", "Read"),
    ("details", "Перегляд подробиць", "Read the details"),
    ("write", "Створення і зміна", "Create and change"),
    ("create", "Створення", "Create"),
    ("delete", "Видалення", "Delete"),
    ("activate", "Активація", "Activate"),
    ("deactivate", "Деактивація", "Deactivate"),
    ("approve", "Затвердження", "Approve"),
    ("reject", "Відхилення", "Reject"),
    ("sign", "Підписання", "Sign"),
    ("terminate", "Розірвання", "Terminate"),
    ("cancel", "Скасування", "Cancel"),
    ("merge", "Об'єднання", "Merge"),
    ("process", "Обробка", "Process"),
    ("resend", "Повторне надсилання", "Resend"),
    ("use", "Використання", "Use"),
];

const RESOURCES: &[(&str, &str, &str)] = &[
    ("address", "адреси", "addresses"),
    (
        "allergy_intolerance",
        "алергії та непереносимості",
        "allergies and intolerances",
    ),
    ("app", "доступи застосунків", "application access"),
    ("bl_user", "заблоковані користувачі", "blocked users"),
    ("cabinet", "особистий кабінет", "the patient's cabinet"),
    (
        "capitation_report",
        "звіти за капітацією",
        "capitation reports",
    ),
    ("client", "клієнти", "clients"),
    ("client_type", "типи клієнтів", "client types"),
    ("condition", "стани здоров'я", "conditions"),
    ("connection", "підключення", "connections"),
    ("contract", "договори", "contracts"),
    ("contract_request", "заяви на договір", "contract requests"),
    ("declaration", "декларації", "declarations"),
    (
        "declaration_request",
        "запити на декларацію",
        "declaration requests",
    ),
    ("division", "підрозділи", "divisions"),
    ("drugs", "лікарські засоби", "drugs"),
    ("employee", "працівники", "employees"),
    (
        "employee_request",
        "запити щодо працівників",
        "employee requests",
    ),
    ("employee_role", "ролі працівників", "employee roles"),
    ("encounter", "взаємодії з пацієнтом", "encounters"),
    ("episode", "епізоди медичної допомоги", "episodes of care"),
    (
        "global_parameters",
        "глобальні параметри",
        "global parameters",
    ),
    (
        "healthcare_service",
        "медичні послуги",
        "healthcare services",
    ),
    ("immunization", "імунізації", "immunizations"),
    (
        "innm",
        "міжнародні непатентовані назви",
        "international non-proprietary names",
    ),
    ("innm_dosage", "лікарські форми МНН", "INN dosage forms"),
    ("job", "фонові завдання", "background jobs"),
    ("legal_entity", "юридичні особи", "legal entities"),
    (
        "legal_entity_merge_job",
        "завдання об'єднання юридичних осіб",
        "legal entity merge jobs",
    ),
    ("medical_program", "медичні програми", "medical programmes"),
    (
        "medication",
        "лікарські засоби програм",
        "programme medications",
    ),
    (
        "medication_dispense",
        "відпуск ліків",
        "medication dispenses",
    ),
    ("medication_request", "рецепти", "prescriptions"),
    (
        "medication_request_request",
        "заявки на рецепти",
        "prescription requests",
    ),
    ("observation", "спостереження", "observations"),
    ("otp", "одноразові коди", "one-time codes"),
    (
        "patient_summary",
        "медичні записи пацієнта",
        "patient summaries",
    ),
    ("person", "персони", "persons"),
    (
        "reimbursement_report",
        "звіти про відшкодування",
        "reimbursement reports",
    ),
    (
        "related_legal_entities",
        "пов'язані юридичні особи",
        "related legal entities",
    ),
    ("role", "ролі", "roles"),
    ("service_request", "направлення", "service requests"),
    ("token", "токени доступу", "access tokens"),
    ("user", "користувачі", "users"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_accept_language() {
        assert_eq!(Lang::from_accept_language(None), Lang::Uk);
        assert_eq!(Lang::from_accept_language(Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("de, en;q=0.5, uk;q=0.8")),
            Lang::Uk
        );
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Uk);
    }

    #[test]
    fn every_seeded_scope_has_words_in_both_languages() {
        let seed = include_str!(
            "../../../../crates/mithril-store/migrations/2026-11-23-000002_seed_types_roles/up.sql"
        );
        let scopes: std::collections::BTreeSet<&str> = seed
            .split(|c: char| !(c.is_ascii_lowercase() || c == '_' || c == ':'))
            .filter(|t| t.split(':').count() == 2 && t.split(':').all(|p| !p.is_empty()))
            .collect();
        assert!(scopes.len() > 100, "{}", scopes.len());
        let missing: Vec<&&str> = scopes
            .iter()
            .filter(|s| scope_words(s, Lang::Uk).is_none() || scope_words(s, Lang::En).is_none())
            .collect();
        assert!(missing.is_empty(), "no words for {missing:?}");
    }

    #[test]
    fn scopes_in_words() {
        assert_eq!(
            scope_words("declaration:read", Lang::En).unwrap(),
            "Read: declarations"
        );
        assert_eq!(
            scope_words("declaration:read", Lang::Uk).unwrap(),
            "Перегляд: декларації"
        );
        assert_eq!(
            scope_words("app:authorize", Lang::En).unwrap(),
            "Grant applications access on your behalf"
        );
        assert!(scope_words("unknown:thing", Lang::Uk).is_none());
    }
}

//! The login flow's [`Conversation`] over a live PAM handle.

use iam::login::{Conversation, ConversationError};
use iam::secret::SecretString;
use pam::constants::{
    PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_TEXT_INFO, PamMessageStyle,
};
use pam::conv::Conv;
use pam::items::{RHost, Service, Tty};
use pam::module::PamHandle;

use crate::sys;

pub(crate) struct PamConversation<'a> {
    pamh: &'a mut PamHandle,
    /// `PAM_SILENT`: the application asked for no messages.
    silent: bool,
}

impl<'a> PamConversation<'a> {
    pub(crate) fn new(pamh: &'a mut PamHandle, silent: bool) -> Self {
        Self { pamh, silent }
    }

    fn send(
        &mut self,
        style: PamMessageStyle,
        text: &str,
    ) -> Result<Option<SecretString>, ConversationError> {
        let conv = match self.pamh.get_item::<Conv>() {
            Ok(Some(conv)) => conv,
            _ => return Err(ConversationError),
        };
        let answer = conv.send(style, text).map_err(|_| ConversationError)?;
        match answer {
            None => Ok(None),
            Some(bytes) => match bytes.as_str() {
                Ok(s) => Ok(Some(SecretString::from(s))),
                Err(_) => Err(ConversationError),
            },
        }
    }

    fn ask(
        &mut self,
        style: PamMessageStyle,
        prompt: &str,
    ) -> Result<SecretString, ConversationError> {
        // A missing answer is an empty one, as pam_unix treats it.
        Ok(self.send(style, prompt)?.unwrap_or_default())
    }

    fn text_item<'s, T>(&'s self) -> Option<String>
    where
        T: pam::items::Item<'s> + std::ops::Deref<Target = &'s std::ffi::CStr>,
    {
        let item = self.pamh.get_item::<T>().ok()??;
        item.to_str().ok().map(str::to_owned)
    }
}

impl Conversation for PamConversation<'_> {
    fn user(&mut self) -> Result<String, ConversationError> {
        self.pamh.get_user(None).map_err(|_| ConversationError)
    }

    fn service(&self) -> Option<String> {
        self.text_item::<Service>()
    }

    fn rhost(&self) -> Option<String> {
        self.text_item::<RHost>()
    }

    fn tty(&self) -> Option<String> {
        self.text_item::<Tty>()
    }

    fn prompt_secret(&mut self, prompt: &str) -> Result<SecretString, ConversationError> {
        self.ask(PAM_PROMPT_ECHO_OFF, prompt)
    }

    fn prompt_visible(&mut self, prompt: &str) -> Result<String, ConversationError> {
        Ok(self.ask(PAM_PROMPT_ECHO_ON, prompt)?.expose().to_owned())
    }

    fn info(&mut self, text: &str) {
        if !self.silent {
            let _ = self.send(PAM_TEXT_INFO, text);
        }
    }

    fn error(&mut self, text: &str) {
        if !self.silent {
            let _ = self.send(PAM_ERROR_MSG, text);
        }
    }

    fn stacked_password(&mut self) -> Option<SecretString> {
        sys::authtok(self.pamh)
    }

    fn set_stacked_password(&mut self, password: &SecretString) {
        sys::set_authtok(self.pamh, password);
    }

    fn data(&self, key: &str) -> Option<String> {
        sys::data(self.pamh, key)
    }

    fn set_data(&mut self, key: &str, value: &str) {
        sys::set_data(self.pamh, key, value);
    }

    fn env(&self, name: &str) -> Option<String> {
        sys::env(self.pamh, name)
    }

    fn set_env(&mut self, name: &str, value: Option<&str>) {
        sys::set_env(self.pamh, name, value);
    }
}

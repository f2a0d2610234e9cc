## Layout

skip-to-content = Skip to main content
nav-label = Main
nav-home = Home
nav-assessment = Self-assessment
nav-call = Call { $phone }
crisis-heading = In crisis? Help is available now, day and night
crisis-call-988 = Call 988 (Suicide & Crisis Lifeline)
crisis-text-988 = Text 988
crisis-text-741741 = Text HOME to 741741 (Crisis Text Line)
crisis-call-911 = Call 911 in an emergency
crisis-not-monitored = This website and its forms are not watched around the clock. If you might act on thoughts of harming yourself, call 988 or 911 now.

## Home

home-title = Care for depression that has not lifted
home-description = A clinic for depression, including treatment-resistant depression: psychotherapy, medication management and TMS. Start with a free, anonymous self-assessment.
home-heading = Depression that has not lifted can still be treated
home-intro = We help adults with depression, including depression that has not improved after earlier treatment, with talk therapy, careful medication management and TMS (transcranial magnetic stimulation).
home-cta = Take the online depression self-assessment
home-cta-note = Nine questions, about two minutes, anonymous. You get your screening result straight away.

## Assessment index

assess-index-title = Online depression self-assessment
assess-index-description = A free, anonymous depression and anxiety screening with the PHQ-9 and GAD-7 questionnaires. Your result in about two minutes.
assess-index-heading = Online depression self-assessment
assess-index-intro = These short questionnaires are used by doctors and clinics around the world to screen for depression and anxiety. Answering them can help you put into words how you have been feeling, and decide what to do next.
assess-index-not-diagnosis = It is a screening, not a diagnosis. Only a clinician who talks with you can diagnose depression or anxiety.
assess-index-time = It takes about two minutes.
assess-index-anonymous = It is anonymous: we do not ask your name, and we do not record your IP address. You choose whether to send your result to the clinic.
assess-index-expiry = Your result has a private link that works for { $days } days. After that it is deleted, unless you have sent it to the clinic.
assess-phq9-name = Depression screening (PHQ-9)
assess-phq9-about = Nine questions about the last two weeks. Start here if you are worried about low mood, loss of interest or depression.
assess-phq9-start = Start the depression screening
assess-gad7-name = Anxiety screening (GAD-7)
assess-gad7-about = Seven questions about worry and nervousness over the last two weeks.
assess-gad7-start = Start the anxiety screening
assess-index-crisis = If you are thinking about ending your life, please do not wait for a questionnaire:

## Questionnaire form

form-title = { $instrument } questionnaire
form-description = Answer { $count } short questions about the last two weeks and get your screening result straight away.
form-intro = Please answer every question. Choose the answer that fits best; there are no right or wrong answers.
form-difficulty-hint = Answer this if you chose anything other than "Not at all" above.
form-submit = See my result
form-privacy = Your answers are stored without your name or any way to identify you.
form-error-summary = Some answers are missing
form-error-item-missing = Please choose an answer for question { $number }.
form-error-item-invalid = Please choose one of the answers for question { $number }.
form-error-difficulty-missing = Please say how difficult these problems have made things for you.
form-error-difficulty-invalid = Please choose one of the answers about how difficult things have been.

## Result

result-title = Your { $instrument } screening result
result-heading = Your { $instrument } screening result
result-taken-on = Taken on { $date }.
result-your-score = Your score
result-score-of = { $total } out of { $max }
result-band = Screening result: { $band }
result-bands-caption = How { $instrument } scores are grouped
result-bands-range = Score
result-bands-label = Group
result-bands-yours = (your score)
result-meaning-heading = What this may mean
result-not-diagnosis = This is a screening result, not a diagnosis. A questionnaire cannot know your history or circumstances. Only a clinician who talks with you can tell whether you have depression or anxiety and what would help.
result-next-heading = What you can do next
result-call-clinic = Call the clinic: { $phone }
result-share-heading = Send my result to the clinic
result-share-body = If you would like the clinic's team to contact you about this result, you can send it to them with your contact details. Nothing is sent unless you choose to.
result-share-not-real-time = Nobody at the clinic sees your result in real time, even after you send it. If you need help now:
result-share-button = Send my result to the clinic
result-already-shared = You sent this result to the clinic on { $date }.
result-answers-heading = Your answers
result-answers-question = Question
result-answers-answer = Your answer
result-answers-points = Points
result-not-scored = Not scored
result-expiry = This private page is available until { $date }. Save or print it if you want to keep it.
result-take-again = Take a questionnaire again
result-print-crisis = In crisis? Call or text 988, text HOME to 741741, or call 911 in an emergency.

safety-heading = Your safety matters most
safety-body = You said that you have had thoughts that you would be better off dead or of hurting yourself. You do not have to face these thoughts alone. People who understand are ready to talk with you now, at any hour, for free.
safety-not-monitored = No one reads this form as you fill it in. If you might act on these thoughts, please call 988 or 911 now, or go to the nearest emergency room.

band-none-minimal = None to minimal
band-minimal = Minimal
band-mild = Mild
band-moderate = Moderate
band-moderately-severe = Moderately severe
band-severe = Severe
band-negative = Negative screen
band-positive = Positive screen

meaning-phq9-none-minimal = Your answers suggest few or no symptoms of depression over the last two weeks.
meaning-phq9-mild = Your answers suggest mild symptoms of depression over the last two weeks.
meaning-phq9-moderate = Your answers suggest moderate symptoms of depression over the last two weeks. Scores of 10 or more are where clinicians usually look more closely.
meaning-phq9-moderately-severe = Your answers suggest moderately severe symptoms of depression over the last two weeks.
meaning-phq9-severe = Your answers suggest severe symptoms of depression over the last two weeks.
meaning-gad7-minimal = Your answers suggest few or no symptoms of anxiety over the last two weeks.
meaning-gad7-mild = Your answers suggest mild symptoms of anxiety over the last two weeks.
meaning-gad7-moderate = Your answers suggest moderate symptoms of anxiety over the last two weeks. A score of 10 or more is a reason for a closer look by a clinician.
meaning-gad7-severe = Your answers suggest severe symptoms of anxiety over the last two weeks. A score of 10 or more is a reason for a closer look by a clinician.

next-none-minimal-1 = If you still feel that something is wrong, trust that feeling and talk to someone you trust or to your doctor.
next-none-minimal-2 = If things change, you can take this screening again at any time.
next-mild-1 = Look after the basics that affect mood: regular sleep, daily movement, time outdoors, and contact with people you like.
next-mild-2 = Keep an eye on how you feel, and take the screening again in about two weeks.
next-mild-3 = If your symptoms last, get worse or get in the way of daily life, talk to a clinician.
next-moderate-1 = Talk to a clinician about how you have been feeling: your family doctor, a therapist, or our team.
next-moderate-2 = Effective help exists, including talk therapy and medication. You can book a first consultation with us.
next-moderately-severe-1 = Please talk to a clinician soon about how you have been feeling: your family doctor, a therapist, or our team.
next-moderately-severe-2 = Treatment with talk therapy, medication or both usually helps. You can book a first consultation with us.
next-severe-1 = Please talk to a clinician as soon as you can: do not wait for things to get better on their own.
next-severe-2 = If earlier treatment has not helped, other options exist, such as a change of medication, combined treatments or TMS. Our team can talk them through with you.

## Sharing with the clinic

share-title = Send my result to the clinic
share-heading = Send my result to the clinic
share-intro = Tell us how to reach you, and { $clinic }'s team will get in touch about your result. Fields marked optional can be left empty.
share-urgent-note = Because of your answer about thoughts of self-harm, your result will be at the top of the clinic's list. But nobody at the clinic sees it the moment you send it, and the clinic is not open around the clock. If you need help now, do not wait for us:
share-name = Your name
share-email = E-mail address (optional if you give a phone number)
share-email-or-phone = Give an e-mail address, a phone number, or both.
share-phone = Phone number (optional if you give an e-mail address)
share-method = How would you like us to contact you?
share-method-email = E-mail
share-method-phone = Phone call
share-method-text = Text message
share-time = When is the best time to reach you?
share-time-any = Any time
share-time-morning = Morning
share-time-afternoon = Afternoon
share-time-evening = Evening
share-message = Anything you would like us to know (optional)
share-consent = I agree to send { $clinic } this screening result (my answers, my score and the date) with the contact details and message above, so that its team can contact me about care. I understand that the clinic keeps this information in my record, and that this form is not watched around the clock.
share-submit = Send my result
share-back = Back to my result
share-error-name = Please enter your name.
share-error-name-long = Please keep your name under 100 characters.
share-error-contact = Please give an e-mail address or a phone number so that we can reach you.
share-error-email = Please enter an e-mail address like name@example.com.
share-error-phone = Please enter a phone number with 7 to 15 digits, like 555 010 0123.
share-error-method = Please choose how we should contact you.
share-error-method-email = You chose e-mail: please give an e-mail address, or choose another way.
share-error-method-phone = You chose a call or a text: please give a phone number, or choose e-mail.
share-error-time = Please choose a time of day.
share-error-message = Please keep your message under 2,000 characters.
share-error-characters = This contains characters we cannot accept, such as line breaks or hidden formatting marks. Please type it again.
share-error-consent = Please tick the box to agree, so that we can send your result.

shared-title = Your result has been sent
shared-heading = Thank you. Your result has been sent
shared-body = { $clinic }'s team has your result and will contact you the way you asked.
shared-not-monitored = Nobody at the clinic sees results in real time, even once they are sent, and the clinic is not open around the clock. If you need help before we reach you:
shared-back = Back to my result

## Errors and other pages

not-found-title = Page not found
not-found-heading = We could not find that page
not-found-body = The address may be mistyped, or the page may have moved.
result-not-found-body = This result could not be found. Results are deleted after their private link expires, unless they were sent to the clinic.
expired-title = This result has expired
expired-heading = This result has expired
expired-body = For your privacy, results can only be viewed for a limited time. You can take the questionnaire again whenever you like.
error-title = Something went wrong
error-heading = Sorry, something went wrong on our side
error-body = Nothing you did caused this. Please try again in a moment. If you were sending something to the clinic, it may not have arrived: please try again or call us.
bad-request-title = We could not read that
bad-request-body = The form could not be read. Please go back and try again.
too-large-body = That was more than this form accepts. Please go back and shorten it.
link-home = Go to the home page
too-many-title = Please wait a little
too-many-heading = Please wait a little before sending this again
too-many-body = This form has been sent many times from your connection in a short while, so we have paused it for about { $minutes ->
    [one] a minute
   *[other] { $minutes } minutes
}. Nothing you sent before was lost. If you are at a shared computer or kiosk, the clinic's staff can help.
too-many-crisis = If you need help now, you do not have to wait: call or text 988, or call 911 in an emergency.
integrity-title = This result cannot be shown
integrity-heading = We cannot show this result
integrity-body = Something about how this result is stored is not right, so we are not showing it rather than risk showing you wrong information. This is our error, not yours.
integrity-next = You can take the questionnaire again: it takes about two minutes. If you would like to talk it through, please call the clinic.
link-assessment = Go to the self-assessment

## E-mail to the clinic (no health data)

mail-new-share-subject = A new self-assessment was shared with the clinic
mail-new-share-subject-urgent = Urgent — please review today: a self-assessment was shared with the clinic
mail-new-share-urgent = It is marked urgent: please review it today.
mail-invite-subject = You are invited to the { $clinic } staff portal
mail-invite-line1 = You have been given an account on the { $clinic } staff portal.
mail-invite-line2 = Open the link below within 72 hours to choose your password. It works once. At your first sign-in you will also set up a code from an authenticator app on your phone.
mail-invite-link = Choose your password
mail-reset-subject = Choose a new password for the { $clinic } staff portal
mail-reset-line1 = Someone asked to reset the password of the staff portal account with this address. If it was you, open the link below within 30 minutes to choose a new password. It works once, and signs out every session of the account.
mail-reset-line2 = If it was not you, you need not do anything: your password stays as it is.
mail-reset-link = Choose a new password
mail-new-share-line1 = Someone has shared a self-assessment result with the clinic and asked to be contacted.
mail-new-share-line2 = Sign in to the staff portal to read it. For privacy, this e-mail does not contain any details.
forbidden-title = This was not accepted
forbidden-body = The form seems to have been sent from another website, so it was not accepted. Please open this site directly and try again.

## Public site

nav-tms = TMS
nav-blog = Blog
nav-contact = Contact
footer-privacy = Privacy
footer-accessibility = Accessibility
footer-feed = Blog feed (Atom)
home-contact-heading = Talk to our team
home-contact-body = Questions about treatment, or ready to book a first consultation? Call us, or send a message with your self-assessment result.
home-contact-link = Contact and opening hours
home-recent-posts = Recent posts
home-all-posts = All posts
read-more = Read more
read-more-about = {" "}about “{ $title }”
reading-time = { $minutes } min read
post-by = by { $author }
post-tags = Topics:
post-related = Related posts
reviewed-by = Medically reviewed by { $reviewer }
reviewed-by-on = Medically reviewed by { $reviewer } on { $date }
page-updated = Last updated { $date }.
blog-back = All posts
blog-title = Blog
blog-title-page = { $title }, page { $page }
blog-intro = Plain-language articles about depression, its treatment and what to expect, reviewed by our clinicians.
blog-description = Articles about depression, treatment-resistant depression, psychotherapy, medication and TMS.
blog-tag-title = Posts about { $tag }
blog-pages = Blog pages
blog-newer = Newer posts
blog-older = Older posts
blog-page-of = Page { $page } of { $pages }
blog-topics = Topics
feed-title = { $clinic }: blog

## Staff portal

staff-portal = Staff portal
staff-nav-label = Staff
staff-nav-queue = Queue
staff-sign-out = Sign out
staff-sign-out-elsewhere = Sign out everywhere else
staff-signed-out-elsewhere = Your other sessions have been signed out.
staff-second-factor-off = Demonstration setting: the second sign-in step is turned off (staff.require_second_factor = false). Do not use this portal with real patients' data like this.
staff-role-admin = Administrator
staff-role-clinician = Clinician
staff-role-coordinator = Coordinator
staff-role-technician = TMS technician

staff-login-title = Sign in
staff-login-heading = Sign in to the staff portal
staff-login-email = Work e-mail address
staff-login-password = Password
staff-login-submit = Sign in
staff-login-missing = Please enter your e-mail address and your password.
staff-login-refused = The e-mail address or password is not right.
staff-throttled-seconds = Too many attempts. Please wait { $count } seconds and try again.
staff-throttled-minutes = Too many attempts. Please wait { $count } minutes and try again.

staff-code-title = Second step
staff-code-heading = Enter your sign-in code
staff-code-intro = Open your authenticator app and enter the six-digit code it shows for this clinic.
staff-code-label = Code
staff-code-hint = Six digits from the app, or one of your recovery codes if you do not have the app with you.
staff-code-submit = Continue
staff-code-missing = Please enter the code from your authenticator app.
staff-code-refused = That code is not right, or it was used already. Codes change every 30 seconds: please try the current one.

staff-enrol-title = Set up the second step
staff-enrol-heading = Set up your second sign-in step
staff-enrol-intro = Because the portal shows patients' health information, every account signs in with a password and a code from an authenticator app on your phone. This takes a minute, once.
staff-enrol-step-app = Install an authenticator app on your phone if you do not have one (any app that supports time-based codes).
staff-enrol-step-scan = In the app, add an account and scan this code.
staff-enrol-qr-alt = QR code to add this account to your authenticator app. If you cannot scan it, type the key shown below it.
staff-enrol-key = If you cannot scan, type this key instead:
staff-enrol-step-code = Enter the six-digit code the app now shows
staff-enrol-submit = Confirm
staff-enrol-refused = That code does not match. Check that the app's clock is right and try the code it shows now.

staff-recovery-title = Recovery codes
staff-recovery-heading = Keep these recovery codes
staff-recovery-intro = If you lose your phone, each of these codes lets you sign in once instead of a code from the app. Print them or keep them in a password manager, somewhere other than your phone.
staff-recovery-once = They are shown only now. You cannot see them again.
staff-recovery-continue = I have kept them: continue

staff-queue-title = Queue
staff-queue-heading = Queue
staff-queue-summary = Open cases: { $count }, of which urgent: { $urgent }.
staff-queue-empty = Nothing is waiting. New cases appear here as they arrive, urgent ones first.
staff-queue-caption = Open cases, urgent first, then oldest first
staff-queue-pages = Pages of the queue
staff-queue-previous = Previous page
staff-queue-next = Next page
staff-col-priority = Priority
staff-col-case = Case
staff-col-waiting = Waiting
staff-col-respond-by = Respond by
staff-col-screening = Screening
staff-col-status = Status
staff-case-link = Case { $id }
staff-with = with
staff-overdue = Overdue
staff-priority-urgent = Urgent
staff-priority-routine = Routine
staff-status-new = New
staff-status-in-progress = In progress
staff-status-closed = Closed
staff-screening = { $instrument } { $total } of { $max }, { $band }
staff-screening-item9 = ; question 9 above "Not at all"

staff-case-title = Case { $id }
staff-case-heading = Case { $id }
staff-back-to-queue = Back to the queue
staff-case-stale = This case changed while you were looking. Here it is as it is now; what you typed is kept below. Please check and send it again if it still applies.
staff-received = Received
staff-ago = { $age } ago
staff-contact-heading = How to reach them
staff-their-message = Their message
staff-contact-name = Name
staff-contact-email = E-mail
staff-contact-phone = Phone
staff-contact-method = Contact by
staff-contact-time = Best time
staff-consent = Consent wording agreed to
staff-result-heading = { $instrument } as they saw it
staff-item9-note = Question 9 (thoughts of being better off dead or of self-harm) was answered above "Not at all". Contact them today.
staff-timeline-heading = Timeline
staff-event-shared = They sent their result to the clinic.
staff-event-by-system = The system
staff-event-taken = took the case
staff-event-note = added a note
staff-event-contact-attempt = tried to reach them by { $method }: { $outcome }
staff-event-contact-attempt-plain = tried to reach them
staff-event-closed = closed the case
staff-event-reopened = reopened the case
staff-act-heading = What next
staff-act-take = Take this case
staff-act-reopen = Reopen the case
staff-act-attempt = Record a contact attempt
staff-attempt-method = How
staff-attempt-outcome = What happened
staff-attempt-note = Note (optional)
staff-act-attempt-submit = Record the attempt
staff-act-note = Note
staff-act-note-submit = Add the note
staff-close-reason = Reason for closing
staff-act-close = Close the case
staff-choose = Choose…
staff-outcome-reached = reached them
staff-outcome-left-message = left a message
staff-outcome-no-answer = no answer
staff-outcome-wrong-number = wrong number or address
staff-outcome-email-sent = e-mail sent
staff-reason-contacted = Reached, next step agreed
staff-reason-booked = First consultation booked
staff-reason-no-response = No response after several attempts
staff-reason-declined = They did not want to go on
staff-reason-referred = Referred elsewhere
staff-reason-duplicate = Duplicate of another case
staff-error-note-empty = Please write the note.
staff-error-note-long = Please keep the note under 4,000 characters.
staff-error-method = Please choose how you tried to reach them.
staff-error-outcome = Please choose what happened.
staff-error-reason = Please choose why the case is closed.
staff-error-action = That action is not known. Please use the buttons on this page.
staff-home-title = Staff portal
staff-home-heading = You are signed in
staff-home-body = The triage queue is for clinicians and coordinators. Administrators manage the accounts and read the audit log (see the menu); TMS technicians' pages are still to come.
staff-nav-accounts = Accounts
staff-nav-audit = Audit log
staff-nav-tokens = API tokens
staff-forgot-password = Forgotten your password?
staff-password-set = Your password is set. Please sign in.
staff-yes = Yes
staff-no = No

staff-accounts-title = Accounts
staff-accounts-heading = Staff accounts
staff-accounts-caption = Every account, by e-mail address
staff-accounts-role = Role
staff-accounts-second-factor = Second step set up
staff-accounts-created = Created
staff-accounts-actions = Actions
staff-account-active = Active
staff-account-invited = Invited, no password yet
staff-account-disabled = Disabled
staff-account-disable = Disable { $email }
staff-account-enable = Enable { $email }
staff-disable-self = You cannot disable your own account. Ask another administrator.
staff-invite-heading = Invite someone
staff-invite-intro = They get an e-mail with a link, valid for 72 hours and usable once, to choose a password. At their first sign-in they set up the second step.
staff-invite-submit = Send the invitation
staff-invite-role = Please choose a role.
staff-invite-exists = An account with that e-mail address exists already.
staff-invite-sent = An invitation was sent to { $email }.

staff-welcome-heading = Choose your password
staff-welcome-intro = Welcome to the { $clinic } staff portal. Choose a password for your account; you will then sign in and set up the second step.
staff-reset-heading = Choose a new password
staff-reset-intro = Choose a new password for your { $clinic } staff portal account. Every session of the account will be signed out.
staff-new-password = New password
staff-new-password-hint = At least 12 characters. A few unrelated words make a strong password that is easy to type; avoid your name, your e-mail address and the clinic's name.
staff-new-password-again = The same password again
staff-new-password-submit = Save the password
staff-password-mismatch = The two passwords are not the same. Please type them again.
staff-password-weak = Please choose another password: { $why }.
staff-link-spent-heading = This link no longer works
staff-link-spent-body = The link was used already or has expired (invitations after 72 hours, password resets after 30 minutes). Ask for a new one.
staff-reset-ask = Ask for a new password-reset link
staff-reset-request-title = Forgotten password
staff-reset-request-heading = Forgotten your password?
staff-reset-request-intro = Enter the e-mail address of your staff account. If it has one, we will send it a link to choose a new password, valid for 30 minutes.
staff-reset-request-submit = Send the link
staff-reset-sent-heading = Check your e-mail
staff-reset-sent-body = If that address has a staff account, a link to choose a new password is on its way. It works for 30 minutes, once.
staff-back-to-sign-in = Back to sign in

staff-tokens-title = API tokens
staff-tokens-heading = Your API tokens
staff-tokens-acts-as = A token lets a program use the staff API as you, with your role ({ $role }). Each use is in the audit log. Revoke a token as soon as it is no longer needed.
staff-tokens-caption = Your tokens, newest first
staff-token-new = Here is the new token. Copy it now: it will not be shown again.
staff-token-name-col = For
staff-token-last-used = Last used
staff-token-never = Never
staff-token-revoked = Revoked on { $date }
staff-token-revoke = Revoke the token for { $name }
staff-token-create-heading = Make a new token
staff-token-name-label = What it is for (e.g. "EHR sync")
staff-token-name = Please say what the token is for, in up to 100 characters on one line.
staff-token-create = Make the token

staff-audit-title = Audit log
staff-audit-heading = Audit log
staff-audit-intro = Every look at and change of health data, and every sign-in and account change: who, what, which record, when and from which address. Newest first.
staff-audit-person = Person
staff-audit-anyone = Anyone
staff-audit-record-type = Kind of record (e.g. case)
staff-audit-record-id = Record number
staff-audit-from = From (date)
staff-audit-until = Until (date, included)
staff-audit-filter = Show
staff-audit-export = Download as CSV
staff-audit-caption = Entries matching the filter
staff-audit-when = When
staff-audit-action = Action
staff-audit-record = Record
staff-audit-address = Address
staff-audit-more = Only the newest 200 are shown here; the CSV has them all.
staff-audit-error-person = Please choose a person from the list.
staff-audit-error-date = Please enter dates as YYYY-MM-DD.
